#!/usr/bin/env bash
# Does what the Dockerfile does, without a container engine, and proves the result starts and works
# with production dependencies only. It reads the Dockerfile itself (its stages, COPY, RUN, ENV, CMD
# and HEALTHCHECK lines), so the image and this check cannot drift apart:
#
#   build stage    the stage's COPY lines from this directory into a clean folder; its `npm ci` is
#                  stood in for by a link to this directory's node_modules (the same lock file's
#                  dev install, which CI's install step made), then its other RUN lines (the build)
#   deps stage     its COPY lines, then its RUN lines as written: `npm ci --omit=dev`, which compiles
#                  the native modules and takes minutes
#   runtime stage  a clean folder with exactly what its COPY lines copy, made read-only; its ENV;
#                  then its CMD as an unprivileged user (nobody when run as root), with a clean
#                  environment, so nothing from this machine's dev install or shell can be used
#
# Checked: no dev-only package is installed; /health, /ready and the HEALTHCHECK command; the
# first-start workspace token printed on stdout generates an access token; no credentials -> 401;
# the sandbox runs code; the dashboard and API reference are served; SIGTERM -> exit 0 with no
# process left. Then a second start on the same data folder (the volume): no new workspace, the
# access token still works, and SIGTERM drains as the image does (/ready 503 for 5 s, then exit 0).
# Overridden for the check: HOST=127.0.0.1, PORT (a free port), TILLER_DATA_DIR (fresh), and for
# the first start only TILLER_DRAIN_DELAY_MS=0. Everything lives in one mktemp folder, removed on
# exit. Usage: bash scripts/image-check.sh   (CI: a step of .ci/run, after the install step)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d -t tiller-image-check.XXXXXX)"
server_pid=""
cleanup() {
  # The server leads its own process group (setsid below): end it and its sandbox processes only.
  if [ -n "$server_pid" ]; then kill -KILL -- "-$server_pid" 2>/dev/null || true; fi
  rm -f "$work/build/node_modules" # the link to this directory's node_modules, never its target
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
start=$(date +%s)
say() { echo "image-check: $*"; }
fail() {
  say "FAIL: $*"
  for log in "$work"/serve*.stdout "$work"/serve*.stderr; do
    [ -s "$log" ] && { echo "--- ${log##*/} (last 40 lines)"; tail -n 40 "$log"; }
  done
  exit 1
}
elapsed() { echo "$(( $(date +%s) - start ))s"; }

[ -f "$repo/Dockerfile" ] || fail "no Dockerfile in $repo"
chmod 755 "$work" # the unprivileged server user must reach the folders below
mkdir -p "$work/data" "$work/home"

# --- The Dockerfile, as tab-separated instructions of one stage ----------------------------------
cat >"$work/dockerfile.mjs" <<'JS'
// node dockerfile.mjs <Dockerfile> <stage>: that stage's instructions, one a line, fields split by
// tabs: COPY <from stage or -> <dest> <src>...; RUN <shell command>; ENV <name> <value>;
// WORKDIR <dir>; USER <name>; CMD <arg>...; HEALTHCHECK <arg>... Anything this check cannot do
// faithfully is an error, so the Dockerfile cannot grow a step the check silently skips.
import { readFileSync } from 'node:fs';
const [file, wanted] = process.argv.slice(2);
const die = (msg) => { process.stderr.write(`image-check: Dockerfile: ${msg}\n`); process.exit(2); };
const lines = [];
let pending = '';
for (const raw of readFileSync(file, 'utf8').split('\n')) {
  if (/^\s*#/.test(raw) || (pending === '' && raw.trim() === '')) continue;
  if (/\\\s*$/.test(raw)) { pending += raw.replace(/\\\s*$/, ' '); continue; }
  lines.push((pending + raw).trim());
  pending = '';
}
const stages = new Map();
let current;
const out = (...fields) => {
  if (fields.some((f) => /[\t\n]/.test(f))) die(`a tab or line break inside: ${fields.join(' ')}`);
  current.push(fields.join('\t'));
};
const execForm = (text, what) => {
  let argv;
  try { argv = JSON.parse(text); } catch { die(`${what} must be in exec form (a JSON array): ${text}`); }
  if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== 'string' || a === '')) die(`${what}: expected a JSON array of non-empty strings`);
  return argv;
};
for (const line of lines) {
  const [, op, rest = ''] = /^(\S+)\s*(.*)$/.exec(line);
  const word = op.toUpperCase();
  if (word === 'FROM') {
    const m = /^(\S+)\s+AS\s+(\S+)$/i.exec(rest);
    if (!m) die(`every stage needs a name: FROM ${rest}`);
    current = [];
    stages.set(m[2], current);
    continue;
  }
  if (!current) die(`${word} before FROM`);
  switch (word) {
    case 'COPY': {
      const words = rest.split(/\s+/);
      let from = '-';
      while (words[0]?.startsWith('--')) {
        const flag = words.shift();
        if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
        else if (!flag.startsWith('--chown=') && !flag.startsWith('--chmod=') && flag !== '--link') die(`COPY flag not understood: ${flag}`);
      }
      if (words.length < 2 || words.some((w) => /[*?[\]$]/.test(w))) die(`COPY needs plain sources and a destination: ${rest}`);
      const dest = words.pop();
      if (dest.startsWith('/')) die(`COPY destinations are relative to WORKDIR here: ${dest}`);
      out('COPY', from, dest, ...words);
      break;
    }
    case 'RUN':
      if (rest.startsWith('[') || rest.startsWith('--')) die(`RUN in plain shell form only: ${rest}`);
      out('RUN', rest);
      break;
    case 'ENV': {
      const pairs = rest.match(/\S+/g) ?? [];
      for (const pair of pairs) {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)=([^"'$\\]*)$/.exec(pair);
        if (!m) die(`ENV in NAME=value form without quotes or variables: ${pair}`);
        out('ENV', m[1], m[2]);
      }
      break;
    }
    case 'WORKDIR': out('WORKDIR', rest); break;
    case 'USER': out('USER', rest); break;
    case 'CMD': out('CMD', ...execForm(rest, 'CMD')); break;
    case 'HEALTHCHECK': {
      const m = /^((?:--\S+\s+)*)CMD\s+(.*)$/.exec(rest);
      if (!m) die(`HEALTHCHECK [options] CMD [...] expected: ${rest}`);
      out('HEALTHCHECK', ...execForm(m[2], 'HEALTHCHECK'));
      break;
    }
    case 'EXPOSE': case 'VOLUME': case 'LABEL': break; // metadata: nothing to do outside an engine
    default: die(`instruction this check cannot mirror: ${word}`);
  }
}
if (!stages.has(wanted)) die(`no stage named ${wanted} (stages: ${[...stages.keys()].join(', ')})`);
process.stdout.write(stages.get(wanted).map((l) => l + '\n').join(''));
JS
stage() { node "$work/dockerfile.mjs" "$repo/Dockerfile" "$1"; }
# Fail now, not half-way, when a stage cannot be read.
for s in build deps runtime; do stage "$s" >/dev/null || exit 1; done

# The build context is what .dockerignore lets through. It is an allow-list ("*", then "!path"
# lines); a COPY source from the context must be one of those paths or inside one.
context_allowed() {
  local src="$1" line
  while IFS= read -r line; do
    case "$line" in "!"*) line="${line#!}"; line="${line%/}"
      if [ "$src" = "$line" ] || [ "${src#"$line"/}" != "$src" ]; then return 0; fi;;
    esac
  done <"$repo/.dockerignore"
  return 1
}
[ -f "$repo/.dockerignore" ] || fail "no .dockerignore: the build context would hold .git, node_modules and data/"
[ "$(grep -v '^\s*#' "$repo/.dockerignore" | grep -v '^\s*$' | head -n 1)" = "*" ] \
  || fail ".dockerignore must start with \"*\" (an allow-list), as this check expects"

# Every COPY from the build context, checked before minutes of work are spent.
for s in build deps runtime; do
  while IFS=$'\t' read -r -a f; do
    [ "${f[0]}" = COPY ] && [ "${f[1]}" = - ] || continue
    for src in "${f[@]:3}"; do
      context_allowed "$src" || fail "stage $s: COPY $src, but .dockerignore keeps it out of the build context"
      [ -e "$repo/$src" ] || fail "stage $s: COPY $src: no such file in $repo"
    done
  done < <(stage "$s")
done

# Does a stage's COPY and RUN lines in folder $work/<stage>. The stages' WORKDIR is /app, which
# maps to that folder; --from=<stage> /app/<path> maps to $work/<stage>/<path>.
materialize() {
  local name="$1" dir="$work/$1" op from dest src target
  mkdir -p "$dir"
  while IFS=$'\t' read -r -a f; do
    op="${f[0]}"
    case "$op" in
      WORKDIR) [ "${f[1]}" = /app ] || fail "stage $name: WORKDIR ${f[1]}; this check maps /app only";;
      COPY)
        from="${f[1]}"; dest="${f[2]}"
        for src in "${f[@]:3}"; do
          if [ "$from" = - ]; then
            context_allowed "$src" || fail "stage $name: COPY $src, but .dockerignore keeps it out of the build context"
            [ -e "$repo/$src" ] || fail "stage $name: COPY $src: no such file in $repo"
            src="$repo/$src"
          else
            [ "${src#/app/}" != "$src" ] || fail "stage $name: COPY --from=$from $src: expected a path under /app"
            [ -e "$work/$from/${src#/app/}" ] || fail "stage $name: COPY --from=$from $src: stage $from has no such path"
            src="$work/$from/${src#/app/}"
          fi
          if [ -d "$src" ]; then
            target="$dir/$dest"; mkdir -p "$target"; cp -a "$src/." "$target/"
          elif [ "${dest%/}" != "$dest" ] || [ "${#f[@]}" -gt 4 ] || [ "$dest" = . ]; then
            mkdir -p "$dir/$dest"; cp -p "$src" "$dir/$dest/"
          else
            mkdir -p "$(dirname "$dir/$dest")"; cp -p "$src" "$dir/$dest"
          fi
        done;;
      RUN)
        case "$name:${f[1]}" in
          build:"npm ci "*|build:"npm ci")
            # The build stage's install is a full dev install from the same lock file: CI's
            # install step made one in this directory already, so it is linked, not repeated.
            [ -d "$repo/node_modules/typescript" ] && [ -d "$repo/node_modules/vite" ] \
              || fail "no dev install in $repo/node_modules: run npm ci first (CI's install step does)"
            ln -s "$repo/node_modules" "$dir/node_modules"
            say "  $name: RUN ${f[1]}  -> stood in for by a link to $repo/node_modules";;
          runtime:*)
            # Image-only housekeeping (the /data folder and its owner): the check makes its own.
            say "  $name: RUN ${f[1]}  -> stood in for by a fresh $work/data owned by the server user";;
          *:"npm "*)
            say "  $name: RUN ${f[1]}"
            ( cd "$dir" && bash -c "${f[1]}" ) >"$work/$name.log" 2>&1 \
              || { tail -n 60 "$work/$name.log"; fail "stage $name: RUN ${f[1]} failed"; };;
          *) fail "stage $name: RUN ${f[1]}: this check runs npm commands only";;
        esac;;
    esac
  done < <(stage "$name")
}

say "work folder $work"
say "build stage (compile server and dashboard from this directory's sources)"
materialize build
[ -f "$work/build/dist/server/cli/main.js" ] || fail "the build stage produced no dist/server/cli/main.js"
[ -f "$work/build/dist/server/runtime/host/main.js" ] || fail "the build stage produced no dist/server/runtime/host/main.js (the sandbox process entry)"
[ -f "$work/build/dist/web/index.html" ] || fail "the build stage produced no dist/web/index.html"
say "  built in $(elapsed)"

say "deps stage (production install from the lock file; compiles isolated-vm and better-sqlite3)"
materialize deps
# npm's "Unsupported engine" warnings name production packages that declare another Node.
awk -v nodev="$(node -v)" '/EBADENGINE +package:/ { split($0, a, "\047"); pkg = a[2] }
     /EBADENGINE +required:/ && pkg != "" { split($0, a, "\047"); print "image-check:   note: " pkg " declares node " a[2] " (npm warns; this check runs it on " nodev ")"; pkg = "" }' \
  "$work/deps.log" | sort -u
say "  installed in $(elapsed)"

say "runtime stage (a clean folder with only what the Dockerfile copies)"
materialize runtime
app="$work/runtime"
( cd "$app" && find . -path ./node_modules -prune -o -type f -print | sed 's|^\./||' | sort ) >"$work/app-files.txt"
say "  files outside node_modules: $(wc -l <"$work/app-files.txt") ($(cut -d/ -f1-2 "$work/app-files.txt" | sort -u | tr '\n' ' '))"
[ ! -e "$app/src" ] || fail "the runtime has src/: bin/tiller.mjs would try to rebuild at start"

# Node resolves packages in every parent folder too: none may hold a node_modules.
d="$(dirname "$app")"
while :; do
  [ ! -e "$d/node_modules" ] || fail "$d/node_modules exists: the runtime could load packages from it"
  [ "$d" = / ] && break
  d="$(dirname "$d")"
done

# No dev-only package in the runtime's node_modules: neither a devDependency of package.json nor
# anything the lock file marks dev (installed only for them).
node --input-type=module - "$app" <<'JS' || fail "dev-only packages are installed in the runtime"
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
const app = process.argv[2];
const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(app, '..', 'deps', 'package-lock.json'), 'utf8'));
const present = [];
for (const name of Object.keys(pkg.devDependencies ?? {})) {
  if (!existsSync(join(app, 'node_modules', name))) continue;
  if (lock.packages?.[`node_modules/${name}`]?.dev) present.push(name);
  else console.log(`image-check:   note: devDependency ${name} is installed because a production dependency needs it too`);
}
const devOnly = Object.entries(lock.packages ?? {}).filter(([path, entry]) => path && entry.dev);
for (const [path] of devOnly) if (existsSync(join(app, path)) && !present.includes(path.replace(/^node_modules\//, ''))) present.push(path);
if (present.length > 0) { console.error(`image-check: dev-only packages present: ${present.join(', ')}`); process.exit(1); }
console.log(`image-check:   ok: none of the ${Object.keys(pkg.devDependencies ?? {}).length} devDependencies nor any of the lock file's ${devOnly.length} dev-only packages is installed`);
JS

# Read-only code, as in the image (root-owned, USER node): the server may write to its data folder only.
chmod -R a+rX,a-w "$app"

# --- Start it as the image does ---------------------------------------------------------------
run_env=(env -i "PATH=$(dirname "$(command -v node)"):/usr/local/bin:/usr/bin:/bin" "HOME=$work/home")
cmd=(); health=(); image_user=root
while IFS=$'\t' read -r -a f; do
  case "${f[0]}" in
    ENV) run_env+=("${f[1]}=${f[2]}");;
    CMD) cmd=("${f[@]:1}");;
    HEALTHCHECK) health=("${f[@]:1}");;
    USER) image_user="${f[1]}";;
  esac
done < <(stage runtime)
[ "${#cmd[@]}" -gt 0 ] || fail "the runtime stage has no CMD"
[ "$image_user" != root ] || fail "the runtime stage runs as root (no USER)"
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
run_env+=("HOST=127.0.0.1" "PORT=$port" "TILLER_DATA_DIR=$work/data")
as_user=()
if [ "$(id -u)" = 0 ]; then
  # The image's user is node (uid 1000); any unprivileged user proves the same: nobody.
  as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  chown 65534:65534 "$work/data" "$work/home"
  run_as=nobody
else
  run_as="$(id -un)"
fi
base="http://127.0.0.1:$port"

# start_server <n> [NAME=value...]: the CMD in its own process group (so it and its sandbox
# processes can be found, and ended on failure), output in $work/serve<n>.stdout / .stderr.
start_server() {
  local n="$1"; shift
  say "start $n as $run_as (the image: USER $image_user): ${cmd[*]}"
  say "  environment: ${run_env[*]:3} $*"
  ( cd "$app" && exec setsid "${as_user[@]}" "${run_env[@]}" "$@" "${cmd[@]}" ) >"$work/serve$n.stdout" 2>"$work/serve$n.stderr" &
  server_pid=$!
}
# stop_server <seconds to wait> [sent]: SIGTERM, as `docker stop` sends (unless already sent);
# then exit 0 and no process left.
stop_server() {
  local t0 code left
  t0=${term_sent_at:-$(date +%s%N)}
  [ "${2:-}" = sent ] || kill -TERM "$server_pid"
  for _ in $(seq 1 $(( $1 * 10 ))); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$server_pid" 2>/dev/null && fail "still running $1 s after SIGTERM"
  set +e; wait "$server_pid"; code=$?; set -e
  [ "$code" = 0 ] || fail "exit code $code after SIGTERM, want 0"
  sleep 0.5
  left=$(ps -eo pgid=,pid=,args= | awk -v g="$server_pid" '$1 == g' || true)
  [ -z "$left" ] || fail "processes left after the server exited: $left"
  server_pid=""
  say "  ok: SIGTERM -> exit 0 after $(( ($(date +%s%N) - t0) / 1000000 )) ms, no process left behind"
}

# --- The checks, against a running server ----------------------------------------------------------
cat >"$work/check.mjs" <<'JS'
// node check.mjs <first|again|draining> <base URL> <server pid> <stdout file> <access token file>
import { readFileSync, writeFileSync } from 'node:fs';
const [mode, base, pid, stdoutFile, tokenFile] = process.argv.slice(2);
const ok = (msg) => console.log(`image-check:   ok: ${msg}`);
const die = (msg) => { console.error(`image-check: ${msg}`); process.exit(1); };
const alive = () => { try { process.kill(Number(pid), 0); return true; } catch { return false; } };
const basic = (user) => ({ authorization: 'Basic ' + Buffer.from(`${user}:`).toString('base64') });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function call(method, path, { headers = {}, body } = {}) {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch {}
  return { status: res.status, text, json, type: res.headers.get('content-type') ?? '' };
}

if (mode === 'draining') {
  // Just after SIGTERM, with the image's drain delay: still answering, but no longer ready.
  const ready = await call('GET', '/ready').catch((e) => die(`GET /ready during the drain: ${e.message}`));
  const health = await call('GET', '/health').catch((e) => die(`GET /health during the drain: ${e.message}`));
  if (ready.status !== 503 || health.status !== 200) die(`during the drain /ready answered ${ready.status} (want 503), /health ${health.status} (want 200)`);
  ok('after SIGTERM, during the drain delay: /ready 503, /health 200');
  process.exit(0);
}

const started = Date.now();
for (;;) {
  if (!alive()) die('the server exited before /health answered');
  const res = await call('GET', '/health').catch(() => undefined);
  if (res?.status === 200) break;
  if (Date.now() - started > 60_000) die(`/health did not answer 200 within 60 s (last: ${res?.status ?? 'no answer'})`);
  await sleep(250);
}
ok(`GET /health 200 after ${((Date.now() - started) / 1000).toFixed(1)} s`);
const ready = await call('GET', '/ready');
if (ready.status !== 200) die(`GET /ready answered ${ready.status}: ${ready.text.slice(0, 300)}`);
ok('GET /ready 200');

// The sandbox: a separate process (dist/server/runtime/host/main.js) running isolated-vm.
async function sandboxRuns(accessToken) {
  const code = `export function transformEvent(event, metadata) {
  log('image-check ran', event.messageId);
  event.properties = { ...event.properties, answer: [1, 2, 3].reduce((a, b) => a + b, 36), ran: 'in the sandbox' };
  return event;
}`;
  const events = [{ type: 'track', event: 'Image Check', messageId: 'image-check-1', userId: 'u1', properties: { kept: true } }];
  const test = await call('POST', '/transformations/test', { headers: basic(accessToken), body: { code, events } });
  const out = test.json?.results?.[0];
  if (test.status !== 200 || out?.statusCode !== 200 || out?.output?.properties?.answer !== 42 || out.output.properties.kept !== true || out.output.properties.ran !== 'in the sandbox') {
    die(`POST /transformations/test answered ${test.status}: ${test.text.slice(0, 500)}`);
  }
  if (!test.json.logs?.some((l) => String(l).includes('image-check ran'))) die(`the sandbox's log() line is missing: ${JSON.stringify(test.json.logs)}`);
}

const printed = /Workspace token: (tlr_ws_\S+)/.exec(readFileSync(stdoutFile, 'utf8'))?.[1];
if (mode === 'again') {
  // Same data folder (the volume): nothing new is created, and what was made before still works.
  if (printed) die('a second start on the same data folder printed a new workspace token');
  await sandboxRuns(readFileSync(tokenFile, 'utf8').trim());
  ok('same data folder: no new workspace; the access token made before still runs code in the sandbox');
  process.exit(0);
}

if (!printed) die('no workspace token on stdout at first start');
ok('the first start printed a workspace token on stdout');
const anon = await call('POST', '/accessTokens', { body: { name: 'image-check' } });
if (anon.status !== 401) die(`POST /accessTokens without credentials answered ${anon.status}, want 401`);
ok('POST /accessTokens without credentials 401');
const created = await call('POST', '/accessTokens', { headers: basic(printed), body: { name: 'image-check' } });
const accessToken = created.json?.data?.token;
if (![200, 201].includes(created.status) || !accessToken?.startsWith('tlr_at_')) die(`POST /accessTokens with the workspace token answered ${created.status}: ${created.text.slice(0, 300)}`);
writeFileSync(tokenFile, accessToken + '\n', { mode: 0o600 });
ok(`POST /accessTokens with the printed workspace token ${created.status}: an access token`);
await sandboxRuns(accessToken);
ok('POST /transformations/test with the access token ran the code in the sandbox (output and log line as expected)');

const page = await call('GET', '/');
if (page.status !== 200 || !page.type.includes('text/html')) die(`GET / answered ${page.status} ${page.type}`);
const asset = /src="(\/[^"]*assets\/[^"]+\.js)"/.exec(page.text)?.[1];
if (!asset) die(`the dashboard page names no assets/*.js script: ${page.text.slice(0, 300)}`);
const script = await call('GET', asset);
if (script.status !== 200) die(`GET ${asset} answered ${script.status}`);
ok(`GET / serves the dashboard (and ${asset})`);
const spec = await call('GET', '/openapi.json');
if (spec.status !== 200 || !spec.json?.paths?.['/transformations/test']) die(`GET /openapi.json answered ${spec.status}`);
const docs = await call('GET', '/docs/');
if (docs.status !== 200 || !docs.type.includes('text/html')) die(`GET /docs/ answered ${docs.status} ${docs.type}`);
ok('GET /openapi.json and /docs/ 200');
JS
check() { node "$work/check.mjs" "$1" "$base" "$server_pid" "$work/serve$2.stdout" "$work/access-token" || fail "the running image does not work ($1)"; }

# First start: empty data folder. The drain delay is set to 0 here; the second start keeps the image's.
start_server 1 TILLER_DRAIN_DELAY_MS=0
check first 1
if [ "${#health[@]}" -gt 0 ]; then
  ( cd "$app" && timeout 3 "${as_user[@]}" "${run_env[@]}" "${health[@]}" ) || fail "the HEALTHCHECK command failed against the running server"
  say "  ok: the Dockerfile's HEALTHCHECK command exits 0"
fi
stop_server 30
say "  data folder (the volume) holds: $(ls -A "$work/data" | tr '\n' ' ')"

# Second start on the same data folder, as after `docker restart` or a new container on the volume.
start_server 2
check again 2
term_sent_at=$(date +%s%N); kill -TERM "$server_pid"; sleep 0.3
node "$work/check.mjs" draining "$base" "$server_pid" "$work/serve2.stdout" "$work/access-token" || fail "the drain after SIGTERM"
stop_server 40 sent

for log in "$work"/serve*.stdout "$work"/serve*.stderr; do
  if grep -q '"level":[56]0' "$log"; then say "  note: error lines in ${log##*/}:"; grep -h '"level":[56]0' "$log" | head -n 5; fi
done
say "passed in $(elapsed)"
