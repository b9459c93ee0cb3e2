# syntax=docker/dockerfile:1
# Tiller image: API, dashboard and sandboxed runtime in one process tree.
# Build:  docker build -t tiller .
# Run:    docker run -p 8080:8080 -v tiller-data:/data tiller
#
# scripts/image-check.sh (a step of .ci/run) reads this file and does what it does without a
# container engine: the COPY, RUN, ENV, CMD and HEALTHCHECK lines below are the ones it runs, so
# keep them simple (exec-form CMD/HEALTHCHECK, COPY into WORKDIR-relative paths, npm in RUN).

# --- build: dev dependencies, compile the server (tsc -> dist/server) and dashboard (vite -> dist/web) ---
# --ignore-scripts: tsc and vite need no native module, so isolated-vm and better-sqlite3 are not
# compiled here (that is the deps stage's job, and this stage's node_modules is thrown away).
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json vite.config.ts ./
COPY scripts/build.mjs ./scripts/build.mjs
COPY src ./src
RUN npm run build

# --- deps: production dependencies only; native modules (isolated-vm, better-sqlite3) compile here ---
FROM node:20-bookworm AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# --- runtime: slim image (same Debian release, so the same glibc the native modules were built for), no compilers, non-root ---
# What runs: bin/tiller.mjs (the CLI entry; it imports scripts/build.mjs, whose ensureBuilt() is a
# no-op without src/), dist/server (including runtime/host/main.js, the sandbox process entry),
# dist/web (the dashboard), package.json ("type": "module", and how config.ts finds the project
# root and so dist/web), node_modules (production only). Nothing else.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    HOST=0.0.0.0 \
    PORT=8080 \
    TILLER_DATA_DIR=/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin/tiller.mjs ./bin/tiller.mjs
COPY scripts/build.mjs ./scripts/build.mjs
COPY --from=build /app/dist ./dist
# The code stays root-owned (read-only to the server); only the data directory belongs to node.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
# The API and dashboard. The runtime listener (TILLER_RUNTIME_PORT) and metrics listener
# (TILLER_METRICS_PORT) are off unless set, and bind 127.0.0.1 unless TILLER_RUNTIME_HOST /
# TILLER_METRICS_HOST say otherwise; publish their ports when you turn them on.
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Every setting comes from the environment (README, Configuration). isolated-vm needs
# --no-node-snapshot and MALLOC_ARENA_MAX at process start, and bin/tiller.mjs gives the server a
# small young generation (--max-semi-space-size=4): with all of them given here, bin/tiller.mjs
# runs the server in this process (PID 1, which handles SIGTERM: /ready turns false, then it drains
# for TILLER_DRAIN_DELAY_MS and exits 0) instead of re-executing Node as a supervisor; the
# container's restart policy takes the supervisor's place.
CMD ["node", "--no-node-snapshot", "--max-semi-space-size=4", "bin/tiller.mjs", "serve"]
