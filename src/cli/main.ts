import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { createWorkspace, listWorkspaces, rotateWorkspaceToken } from '../domain/workspaces.js';
import { DomainError } from '../domain/errors.js';
import { startServer } from '../main.js';
import { openStore } from '../store/db.js';
import { prepareStore } from '../store/start-checks.js';
import { REMOTE_COMMANDS } from './remote/commands.js';

const COMMON_FLAGS = `Settings (flags override the environment):
  --data-dir D        TILLER_DATA_DIR   where SQLite, the pepper and the credentials key live (default ./data)
  --database-url U    DATABASE_URL      use PostgreSQL instead of SQLite
  --log-level L       LOG_LEVEL         fatal|error|warn|info|debug|trace|silent (default info)`;

const HELP: Record<string, string> = {
  main: `tiller: self-hosted Transformations platform

Usage: tiller <command> [options]

Commands:
  serve                     run the API, runtime and dashboard
  workspace create          create a workspace and print its token once
  workspace rotate-token    replace a workspace's token
  workspace list            list workspaces
  migrate                   apply database migrations and exit

Remote commands (a client of a running server; README, "Transformations in git"):
  login, pull, push, test, publish, rollback, status, transformations, libraries, tokens

Run "tiller <command> --help" for a command's options.`,
  serve: `Usage: tiller serve [--port P] [--host H] [--data-dir D]

Runs Tiller. On first start with an empty store it creates the workspace "default" and prints its
workspace token once.

  --port P            PORT              (default 8080)
  --host H            HOST              (default 127.0.0.1)
  --runtime-port P    TILLER_RUNTIME_PORT  also serve /customTransform and the config-backend
                                           routes without credentials on this port
  --runtime-host H    TILLER_RUNTIME_HOST  (default 127.0.0.1; bind it to a private interface)
  --metrics-port P    TILLER_METRICS_PORT  serve GET /metrics without credentials on this port
  --metrics-host H    TILLER_METRICS_HOST  (default 127.0.0.1; bind it to a private interface)

SIGTERM drains: GET /ready answers 503 at once, answers go on for TILLER_DRAIN_DELAY_MS (default
5000) while load balancers notice, then in-flight requests finish and Tiller exits. SIGINT skips
the delay. Every other setting is an environment variable (README, Configuration).
${COMMON_FLAGS}`,
  'workspace create': `Usage: tiller workspace create --name N --owner-email E [--json]

Creates a workspace and prints its workspace token. The token is shown only here.
  --json              print {"workspaceId", "workspaceToken", "name", "ownerEmail"}
${COMMON_FLAGS}`,
  'workspace rotate-token': `Usage: tiller workspace rotate-token --id W [--json]

Issues a new workspace token; the old one stops working at once on every instance.
  --json              print {"workspaceId", "workspaceToken"}
${COMMON_FLAGS}`,
  'workspace list': `Usage: tiller workspace list [--json]
${COMMON_FLAGS}`,
  migrate: `Usage: tiller migrate

Applies pending migrations to the configured store and exits. "serve" does this too, unless
TILLER_MIGRATE_ON_START=false (then it refuses a database that needs migrations). A database
migrated by a newer release is refused by both.
${COMMON_FLAGS}`,
};

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  port: { type: 'string' },
  host: { type: 'string' },
  'data-dir': { type: 'string' },
  'database-url': { type: 'string' },
  'log-level': { type: 'string' },
  'runtime-port': { type: 'string' },
  'runtime-host': { type: 'string' },
  'metrics-port': { type: 'string' },
  'metrics-host': { type: 'string' },
  name: { type: 'string' },
  'owner-email': { type: 'string' },
  id: { type: 'string' },
} as const;

class UsageError extends Error {}


export async function runCli(argv: string[]): Promise<number> {
  if (argv[0] !== undefined && REMOTE_COMMANDS.has(argv[0])) {
    const { runRemote } = await import('./remote/index.js');
    return runRemote(argv);
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`tiller: ${(err as Error).message}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0] === 'workspace' && positionals[1] ? `workspace ${positionals[1]}` : (positionals[0] ?? 'main');
  if (values.help || command === 'main' || command === 'help') {
    const text = HELP[command] ?? HELP.main!;
    process.stdout.write(text + '\n');
    return command === 'main' && !values.help ? 2 : 0;
  }
  if (!HELP[command]) {
    process.stderr.write(`tiller: unknown command "${positionals.join(' ')}". Run "tiller --help".\n`);
    return 2;
  }
  const flags: Record<string, string | undefined> = {
    port: values.port,
    host: values.host,
    'data-dir': values['data-dir'],
    'database-url': values['database-url'],
    'log-level': values['log-level'],
    'runtime-port': values['runtime-port'],
    'runtime-host': values['runtime-host'],
    'metrics-port': values['metrics-port'],
    'metrics-host': values['metrics-host'],
  };

  try {
    const config = loadConfig(process.env, flags);
    switch (command) {
      case 'serve':
        return await serve(config);
      case 'migrate': {
        const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
        try {
          // Not the pepper: a migration job often runs without one (then a generated one would be recorded).
          await prepareStore(store, config, { migrate: true, checkPepper: false });
        } finally {
          await store.close();
        }
        process.stdout.write(`migrations applied (${config.databaseUrl ? 'postgresql' : 'sqlite in ' + config.dataDir})\n`);
        return 0;
      }
      default:
        return await workspaceCommand(command, config, values);
    }
  } catch (err) {
    if (err instanceof ConfigError || err instanceof UsageError) {
      process.stderr.write(`tiller: ${err.message}\n`);
      return 2;
    }
    if (err instanceof DomainError) {
      process.stderr.write(`tiller: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`tiller: ${(err as Error).message}\n`);
    return 1;
  }
}

async function workspaceCommand(command: string, config: ReturnType<typeof loadConfig>, values: { json?: boolean | undefined; name?: string | undefined; 'owner-email'?: string | undefined; id?: string | undefined }): Promise<number> {
  const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  try {
    await prepareStore(store, config);
    if (command === 'workspace create') {
      const name = values.name?.trim();
      const ownerEmail = values['owner-email']?.trim();
      if (!name) throw new UsageError('workspace create needs --name');
      if (!ownerEmail || !/^[^\s@]+@[^\s@]+$/.test(ownerEmail)) throw new UsageError('workspace create needs --owner-email with an e-mail address');
      const { workspace, workspaceToken } = await createWorkspace(store, config.pepper, { name, ownerEmail });
      if (values.json) process.stdout.write(JSON.stringify({ workspaceId: workspace.id, workspaceToken, name: workspace.name, ownerEmail: workspace.ownerEmail }) + '\n');
      else process.stdout.write(`Created workspace "${workspace.name}" (id ${workspace.id}).\nWorkspace token (shown only now): ${workspaceToken}\n`);
      return 0;
    }
    if (command === 'workspace rotate-token') {
      if (!values.id) throw new UsageError('workspace rotate-token needs --id');
      const { workspace, workspaceToken } = await rotateWorkspaceToken(store, config.pepper, values.id);
      if (values.json) process.stdout.write(JSON.stringify({ workspaceId: workspace.id, workspaceToken }) + '\n');
      else process.stdout.write(`New token for workspace "${workspace.name}" (shown only now): ${workspaceToken}\nThe old token no longer works.\n`);
      return 0;
    }
    const workspaces = await listWorkspaces(store);
    if (values.json) process.stdout.write(JSON.stringify(workspaces) + '\n');
    else if (workspaces.length === 0) process.stdout.write('No workspaces yet. "tiller serve" creates one on first start.\n');
    else for (const w of workspaces) process.stdout.write(`${w.id}  ${w.name}  ${w.ownerEmail}  token ${w.tokenHint}  created ${w.createdAt}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

async function serve(config: ReturnType<typeof loadConfig>): Promise<number> {
  const server = await startServer(config);
  server.app.log.info({ url: server.url, runtimeUrl: server.runtimeUrl, metricsUrl: server.metricsUrl, store: server.services.store.dialect }, 'tiller listening');
  const extras = [server.runtimeUrl && `runtime without credentials on ${server.runtimeUrl}`, server.metricsUrl && `metrics without credentials on ${server.metricsUrl}/metrics`].filter(Boolean);
  process.stdout.write(`Tiller is listening on ${server.url}${extras.length > 0 ? ` (${extras.join('; ')})` : ''}\n`);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: 'SIGTERM' | 'SIGINT') => {
      if (stopping) return;
      stopping = true;
      // SIGTERM is a supervisor or load-balanced rollout: /ready turns false at once and the instance
      // keeps answering for TILLER_DRAIN_DELAY_MS while load balancers stop sending it requests.
      // SIGINT is a person at a terminal: no one is routing here, so no delay.
      const delayMs = signal === 'SIGTERM' ? server.services.config.drainDelayMs : 0;
      server.app.log.info({ signal, drainDelayMs: delayMs }, 'draining: /ready answers 503; finishing in-flight requests');
      const force = setTimeout(() => {
        server.app.log.error('in-flight requests did not finish in 25 s after the drain delay; exiting');
        process.exit(1);
      }, delayMs + 25_000);
      force.unref();
      server.drain(delayMs).then(resolve, (err: unknown) => {
        server.app.log.error({ err }, 'error during shutdown');
        resolve();
      });
    };
    // `on`, not `once`: a second signal (from a wrapper forwarding it too) must not kill the drain.
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}
