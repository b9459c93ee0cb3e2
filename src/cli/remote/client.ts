// HTTP client of the remote commands: one place that turns transport and auth failures into the
// exit codes of the CLI (3: unreachable server, wrong token, missing scope).
import { CliError, EXIT, connectionError, usageError } from './errors.js';
import { readProfile } from './profile.js';

export type GlobalOptions = {
  url?: string;
  token?: string;
  workspaceToken?: string;
  json?: boolean;
};

/** Error envelope of a non-2xx answer that is not a connection or auth problem. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown>,
  ) {
    super(EXIT.failed, message);
  }
}

type TokenKind = 'access' | 'workspace';

export class Client {
  constructor(
    readonly url: string,
    private readonly secret: string,
    private readonly kind: TokenKind,
    private readonly tokenSetting: string,
  ) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {
      authorization: this.kind === 'access' ? `Bearer ${this.secret}` : `Basic ${Buffer.from(`${this.secret}:`).toString('base64')}`,
      accept: 'application/json',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(new URL(path.replace(/^\//, ''), this.url.endsWith('/') ? this.url : this.url + '/'), { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(120_000) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw connectionError(`cannot reach the Tiller server at ${this.url} (${why}); check --url or TILLER_URL`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw connectionError(`${this.url} answered ${method} ${path} with ${res.status} and a body that is not JSON: is it a Tiller server? Check --url or TILLER_URL`);
    }
    if (res.ok) return json as T;
    const error = ((json as { error?: Record<string, unknown> } | undefined)?.error ?? {}) as Record<string, unknown>;
    const message = typeof error.message === 'string' ? error.message : `HTTP ${res.status}`;
    if (res.status === 401) {
      throw connectionError(`the server at ${this.url} refused the ${this.kind} token (${message}); check ${this.tokenSetting}`);
    }
    if (res.status === 403) throw connectionError(`the server at ${this.url} refused the call: ${message}; use another token (${this.tokenSetting})`);
    throw new ApiError(res.status, typeof error.code === 'string' ? error.code : 'error', message, error);
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', path, body);
  }
  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }
}

function resolveUrl(opts: GlobalOptions, env: NodeJS.ProcessEnv): string {
  const url = opts.url ?? env.TILLER_URL ?? readProfile(env).url;
  if (!url) throw usageError('no server given: pass --url, set TILLER_URL, or run "tiller login --url U --token T"');
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error();
  } catch {
    throw usageError(`--url / TILLER_URL must be an http:// or https:// URL, not "${url}"`);
  }
  return url;
}

/** A client with the access token from --token, TILLER_TOKEN or the saved profile. */
export function accessClient(opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Client {
  const url = resolveUrl(opts, env);
  const profile = readProfile(env);
  const [token, setting]: [string | undefined, string] = opts.token ? [opts.token, '--token'] : env.TILLER_TOKEN ? [env.TILLER_TOKEN, 'TILLER_TOKEN'] : profile.token ? [profile.token, 'the token saved by "tiller login" (or pass --token / TILLER_TOKEN)'] : [undefined, ''];
  if (!token) throw usageError('no access token given: pass --token, set TILLER_TOKEN, or run "tiller login --url U --token T"');
  return new Client(url, token, 'access', setting);
}

/** A client with the workspace token, for the `tokens` commands. */
export function workspaceClient(opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Client {
  const url = resolveUrl(opts, env);
  const profile = readProfile(env);
  const [token, setting]: [string | undefined, string] = opts.workspaceToken
    ? [opts.workspaceToken, '--workspace-token']
    : env.TILLER_WORKSPACE_TOKEN
      ? [env.TILLER_WORKSPACE_TOKEN, 'TILLER_WORKSPACE_TOKEN']
      : profile.workspaceToken
        ? [profile.workspaceToken, 'the workspace token saved by "tiller login" (or pass --workspace-token / TILLER_WORKSPACE_TOKEN)']
        : [undefined, ''];
  if (!token) throw usageError('no workspace token given: pass --workspace-token or set TILLER_WORKSPACE_TOKEN');
  return new Client(url, token, 'workspace', setting);
}

// API shapes the CLI reads (a subset of the answers).
export interface RemoteTransformation {
  id: string;
  versionId: string;
  name: string;
  description: string;
  code: string;
  imports: string[];
  publishedVersionId: string | null;
  createdAt: string;
  updatedAt: string;
  isPublished?: boolean;
}

export interface RemoteLibrary {
  id: string;
  versionId: string;
  name: string;
  description: string;
  code: string;
  importName: string;
  publishedVersionId: string | null;
  createdAt: string;
  updatedAt: string;
  isPublished?: boolean;
}
