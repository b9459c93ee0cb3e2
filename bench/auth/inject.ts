// In-process companion to run.ts: the cost of an authenticated GET /accessTokens/self beyond
// GET /health, with no network and no load generator in the way (fastify.inject).
//   node bin/node-flags.mjs bench/auth/inject.ts [--requests N (20000)] [--rounds N (5)] [--cache-size N (10000)]
//            [--only /health|/accessTokens/self: load one path only, e.g. to compare two CPU profiles]
// To profile: node --cpu-prof --no-node-snapshot --import tsx bench/auth/inject.ts --only ...
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/config.js';
import { issueAccessToken } from '../../src/domain/access-tokens.js';
import { systemActor } from '../../src/domain/audit.js';
import { createWorkspace } from '../../src/domain/workspaces.js';
import { startServer } from '../../src/main.js';

const { values: flags } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '5' },
    'cache-size': { type: 'string', default: '10000' },
    only: { type: 'string' },
  },
});
const REQUESTS = Number(flags.requests);
const dataDir = mkdtempSync(join(tmpdir(), 'tiller-bench-inject-'));
const config = loadConfig({ TILLER_DATA_DIR: dataDir, TILLER_PEPPER: 'bench-pepper-0123456789abcdef0123456789', LOG_LEVEL: 'warn', PORT: '0', HOST: '127.0.0.1', TILLER_TOKEN_CACHE_SIZE: flags['cache-size']! });
const server = await startServer(config, { announce: false });
try {
  const { workspace } = await createWorkspace(server.services.store, config.pepper, { name: 'bench', ownerEmail: 'bench@example.com' });
  const tokens: string[] = [];
  for (let i = 0; i < 100; i++) tokens.push((await issueAccessToken(server.services.store, config.pepper, workspace.id, systemActor, { name: `t${i}` })).token);

  /** Microseconds of this process's CPU per request, 32 requests in flight. */
  const measure = async (url: string): Promise<number> => {
    const started = process.cpuUsage();
    let next = 0;
    const worker = async () => {
      while (next < REQUESTS) {
        const token = tokens[next++ % tokens.length]!;
        const res = await server.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
        if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    const used = process.cpuUsage(started);
    return (used.user + used.system) / REQUESTS;
  };
  if (flags.only !== undefined) {
    for (let round = 0; round <= Number(flags.rounds); round++) process.stderr.write(`${flags.only}: ${(await measure(flags.only)).toFixed(1)} µs\n`);
  } else {
    await compare(measure);
  }
} finally {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
}

/** Warm-up, then rounds of /health and /accessTokens/self side by side; prints their medians. */
async function compare(measure: (url: string) => Promise<number>): Promise<void> {
  await measure('/health');
  await measure('/accessTokens/self');
  const rows: [number, number][] = [];
  for (let round = 0; round < Number(flags.rounds); round++) {
    const health = await measure('/health');
    const self = await measure('/accessTokens/self');
    rows.push([health, self]);
    process.stderr.write(`round ${round + 1}: /health ${health.toFixed(1)} µs  /accessTokens/self ${self.toFixed(1)} µs  extra ${(self - health).toFixed(1)} µs\n`);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const health = median(rows.map((r) => r[0]));
  const self = median(rows.map((r) => r[1]));
  process.stdout.write(`CPU per request (medians; inject, no network): /health ${health.toFixed(1)} µs, /accessTokens/self ${self.toFixed(1)} µs, health/self ${(health / self).toFixed(3)}\n`);
}
