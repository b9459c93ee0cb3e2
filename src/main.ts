import pino from 'pino';
import { loadConfig, type Config } from './config.js';
import { ensureDefaultWorkspace } from './domain/workspaces.js';
import { REDACTED_LOG_PATHS, buildApp, type App } from './http/app.js';
import { createServices, type Services } from './services.js';

export interface RunningServer {
  app: App;
  runtimeApp: App | undefined;
  services: Services;
  url: string;
  runtimeUrl: string | undefined;
  close(): Promise<void>;
}

export function createLogger(config: Pick<Config, 'logLevel'>, stream?: NodeJS.WritableStream) {
  const options = { level: config.logLevel, redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' } };
  return stream ? pino(options, stream) : pino(options);
}

/** Opens the store, migrates, and listens on the main port (and the runtime port when set). */
export async function startServer(config: Config, options: { logStream?: NodeJS.WritableStream; announce?: boolean } = {}): Promise<RunningServer> {
  const logger = createLogger(config, options.logStream);
  const services = await createServices(config, logger);
  let app: App | undefined;
  let runtimeApp: App | undefined;
  try {
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
    const main = app;
    return {
      app: main,
      runtimeApp,
      services,
      url: displayUrl(url),
      runtimeUrl: runtimeUrl && displayUrl(runtimeUrl),
      close: async () => {
        // Stop accepting, let in-flight requests finish, then release the store.
        await Promise.all([main.close(), runtimeApp?.close()]);
        await services.close();
      },
    };
  } catch (err) {
    await Promise.all([app?.close(), runtimeApp?.close()]).catch(() => undefined);
    await services.close();
    throw err;
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
