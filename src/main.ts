import { lookup } from 'node:dns/promises';
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import pino from 'pino';
import { ConfigError, loadConfig, type Config } from './config.js';
import { ensureDefaultWorkspace } from './domain/workspaces.js';
import { REDACTED_LOG_PATHS, buildApp, type App } from './http/app.js';
import { ensurePrivateDir } from './private-files.js';
import { isPublicAddress } from './runtime/addresses.js';
import { createServices, type Services } from './services.js';

export interface RunningServer {
  app: App;
  runtimeApp: App | undefined;
  services: Services;
  url: string;
  runtimeUrl: string | undefined;
  /** The credential-free GET /metrics listener (TILLER_METRICS_PORT), when set. */
  metricsApp: App | undefined;
  metricsUrl: string | undefined;
  /** Stop accepting, let in-flight requests finish, then release the store and the sandbox. */
  close(): Promise<void>;
  /**
   * A graceful stop for a load-balanced instance: /ready answers 503 at once, every listener keeps
   * answering (each answer closing its connection) for `delayMs` while load balancers notice,
   * then close().
   */
  drain(delayMs: number): Promise<void>;
}

export function createLogger(config: Pick<Config, 'logLevel'>, stream?: NodeJS.WritableStream) {
  const options = { level: config.logLevel, redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' } };
  return stream ? pino(options, stream) : pino(options);
}

/** Opens the store, migrates, and listens on the main port (and the runtime and metrics ports when set). */
export async function startServer(config: Config, options: { logStream?: NodeJS.WritableStream; announce?: boolean } = {}): Promise<RunningServer> {
  const logger = createLogger(config, options.logStream);
  if (config.trustProxy === true) {
    logger.warn(
      { setting: 'TILLER_TRUST_PROXY' },
      'TILLER_TRUST_PROXY=true believes every X-Forwarded-For entry, so any client can claim any address: pass an allowedIps list, dodge the failed-authentication limit, and forge lastUsedIp and the audit log. Set it to the number of proxies in front of Tiller, or to their addresses or CIDRs.',
    );
  }
  // Before anything starts, so a refused setting costs no sandbox process and no migration.
  if (config.runtimeListener) await refusePublicRuntimeBind(config.runtimeListener.host, config.runtimeAllowPublic);
  const services = await createServices(config, logger);
  let app: App | undefined;
  let runtimeApp: App | undefined;
  let metricsApp: App | undefined;
  try {
    // Tightened (or created 0700) by the store and the pepper already; one owned by someone else is named here.
    const dataDirWarning = existsSync(config.dataDir) ? ensurePrivateDir(config.dataDir) : undefined;
    if (dataDirWarning) logger.warn({ dataDir: config.dataDir }, dataDirWarning);
    if (options.announce !== false) {
      const created = await ensureDefaultWorkspace(services.store, config.pepper, config.ownerEmail);
      if (created) printFirstStartBanner(config, created.workspace.id, created.workspaceToken);
    }
    app = await buildApp({ services, logger });
    const url = await app.listen({ port: config.port, host: config.host });
    let runtimeUrl: string | undefined;
    if (config.runtimeListener) {
      runtimeApp = await buildApp({ services, logger, surface: 'runtime' });
      runtimeUrl = await runtimeApp.listen({ port: config.runtimeListener.port, host: config.runtimeListener.host });
    }
    let metricsUrl: string | undefined;
    if (config.metricsListener) {
      metricsApp = await buildApp({ services, logger, surface: 'metrics' });
      metricsUrl = await metricsApp.listen({ port: config.metricsListener.port, host: config.metricsListener.host });
    }
    const main = app;
    const close = async () => {
      await Promise.all([main.close(), runtimeApp?.close(), metricsApp?.close()]);
      await services.close();
    };
    return {
      app: main,
      runtimeApp,
      services,
      url: displayUrl(url),
      runtimeUrl: runtimeUrl && displayUrl(runtimeUrl),
      metricsApp,
      metricsUrl: metricsUrl && displayUrl(metricsUrl),
      close,
      drain: async (delayMs) => {
        services.readiness.startDrain();
        if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
        await close();
      },
    };
  } catch (err) {
    await Promise.all([app?.close(), runtimeApp?.close(), metricsApp?.close()]).catch(() => undefined);
    await services.close();
    throw err;
  }
}

/**
 * The runtime listener takes /customTransform and the config-backend routes without credentials,
 * so it binds to all interfaces or a public address only when the operator says a network in front
 * protects it (TILLER_RUNTIME_ALLOW_PUBLIC=true). A host name is judged by every address it resolves to.
 */
async function refusePublicRuntimeBind(host: string, allowPublic: boolean): Promise<void> {
  if (allowPublic) return;
  const addresses = isIP(host) ? [host] : (await lookup(host, { all: true }).catch(() => [])).map((a) => a.address);
  const exposure = (address: string) => (ipaddr.isValid(address) && ipaddr.parse(address).range() === 'unspecified' ? 'every interface' : isPublicAddress(address) ? 'a public address' : undefined);
  const where = addresses.map(exposure).find((found) => found !== undefined);
  if (where !== undefined) {
    throw new ConfigError(
      'TILLER_RUNTIME_HOST',
      `${host} puts the credential-free runtime listener on ${where}: bind it to a private interface, or set TILLER_RUNTIME_ALLOW_PUBLIC=true when a network in front protects it`,
    );
  }
}

function displayUrl(url: string): string {
  return url.replace('://[::1]', '://localhost').replace('://127.0.0.1', '://localhost');
}

/** The workspace token is shown once, on the terminal only (never through the logger). */
function printFirstStartBanner(config: Config, workspaceId: string, workspaceToken: string): void {
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${config.port}`;
  const basic = Buffer.from(`${workspaceToken}:`).toString('base64');
  process.stdout.write(
    [
      '',
      `Tiller created the workspace "default" (id ${workspaceId}, owner ${config.ownerEmail}).`,
      '',
      `  Workspace token: ${workspaceToken}`,
      '',
      'This is the only time it is shown. Keep it safe; `tiller workspace rotate-token` replaces it.',
      'Generate an access token for the Transformations API:',
      '',
      `  curl -X POST '${base}/accessTokens' -H 'Authorization: Basic ${basic}' -H 'Content-Type: application/json' -d '{"name": "my-first-token"}'`,
      '',
      `Dashboard: ${base}/   API reference: ${base}/docs`,
      '',
    ].join('\n') + '\n',
  );
}

export { loadConfig };
