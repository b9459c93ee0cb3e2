import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { defaultRuntimeLimits, type RuntimeLimits } from './runtime/types.js';

/** Every setting Tiller reads, in one typed object. Built once at start and validated there. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** PostgreSQL connection string; when absent Tiller uses SQLite under dataDir. */
  databaseUrl: string | undefined;
  bodyLimitBytes: number;
  /** Body limit of POST /customTransform, whose batches are larger than API calls. */
  runtimeBodyLimitBytes: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Server-side key for token digests; never stored in the database. */
  pepper: Buffer;
  ownerEmail: string;
  authFailureLimit: number;
  authFailureWindowMs: number;
  tokenCacheSize: number;
  tokenCacheTtlMs: number;
  /** Separate credential-free listener for /customTransform and the config-backend routes. */
  runtimeListener: { host: string; port: number } | undefined;
  /** Whether the main listener also accepts runtime/config-backend calls without credentials. */
  runtimeAuth: 'token' | 'none';
  runtime: RuntimeLimits & {
    maxIsolates: number;
    isolatesPerVersion: number;
    /** Warm isolates one workspace may hold in one sandbox process, so it cannot evict the others'. */
    maxIsolatesPerWorkspace: number;
    workspaceConcurrency: number;
    /** Sandbox host processes that run user code. */
    processes: number;
    /** A host process is drained and replaced past this resident memory. */
    processMaxRssMb: number;
    /** First quarantine of a version that crashed a host; doubles on repeat, up to 60 times this. */
    quarantineSeconds: number;
  };
  /** Where the built dashboard lives. */
  webDistDir: string;
  trustProxy: boolean;
}

export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`invalid setting ${setting}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Source = Record<string, string | undefined>;

/** Flags override environment variables; both are optional. */
export function loadConfig(env: Source = process.env, flags: Source = {}): Config {
  const get = (flag: string, envName: string): string | undefined => {
    const value = flags[flag] ?? env[envName];
    return value === undefined || value === '' ? undefined : value;
  };

  const dataDir = resolve(get('data-dir', 'TILLER_DATA_DIR') ?? './data');
  const runtimeHost = get('runtime-host', 'TILLER_RUNTIME_HOST');
  const runtimePortRaw = get('runtime-port', 'TILLER_RUNTIME_PORT');

  const config: Config = {
    port: integer('PORT', get('port', 'PORT'), 8080, 0, 65535),
    host: get('host', 'HOST') ?? '127.0.0.1',
    dataDir,
    databaseUrl: validDatabaseUrl(get('database-url', 'DATABASE_URL')),
    bodyLimitBytes: integer('TILLER_BODY_LIMIT', get('body-limit', 'TILLER_BODY_LIMIT'), 1024 * 1024, 1024, 256 * 1024 * 1024),
    runtimeBodyLimitBytes: integer(
      'TILLER_RUNTIME_BODY_LIMIT',
      get('runtime-body-limit', 'TILLER_RUNTIME_BODY_LIMIT'),
      32 * 1024 * 1024,
      1024,
      1024 * 1024 * 1024,
    ),
    logLevel: oneOf('LOG_LEVEL', get('log-level', 'LOG_LEVEL'), ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    pepper: Buffer.alloc(0),
    ownerEmail: email('TILLER_OWNER_EMAIL', get('owner-email', 'TILLER_OWNER_EMAIL') ?? 'admin@localhost'),
    authFailureLimit: integer('TILLER_AUTH_FAILURE_LIMIT', get('auth-failure-limit', 'TILLER_AUTH_FAILURE_LIMIT'), 20, 0, 1_000_000),
    authFailureWindowMs:
      1000 * integer('TILLER_AUTH_FAILURE_WINDOW_SECONDS', get('auth-failure-window', 'TILLER_AUTH_FAILURE_WINDOW_SECONDS'), 60, 1, 86_400),
    tokenCacheSize: integer('TILLER_TOKEN_CACHE_SIZE', get('token-cache-size', 'TILLER_TOKEN_CACHE_SIZE'), 10_000, 0, 10_000_000),
    tokenCacheTtlMs: 1000 * integer('TILLER_TOKEN_CACHE_TTL_SECONDS', get('token-cache-ttl', 'TILLER_TOKEN_CACHE_TTL_SECONDS'), 30, 0, 3600),
    runtimeListener:
      runtimePortRaw !== undefined
        ? { host: runtimeHost ?? '127.0.0.1', port: integer('TILLER_RUNTIME_PORT', runtimePortRaw, 0, 0, 65535) }
        : undefined,
    runtimeAuth: oneOf('TILLER_RUNTIME_AUTH', get('runtime-auth', 'TILLER_RUNTIME_AUTH'), ['token', 'none'] as const, 'token'),
    runtime: {
      memoryMb: integer('TILLER_SANDBOX_MEMORY_MB', get('sandbox-memory-mb', 'TILLER_SANDBOX_MEMORY_MB'), defaultRuntimeLimits.memoryMb, 8, 4096),
      cpuTimeMs: integer('TILLER_SANDBOX_CPU_MS', get('sandbox-cpu-ms', 'TILLER_SANDBOX_CPU_MS'), defaultRuntimeLimits.cpuTimeMs, 10, 600_000),
      wallTimeMs: integer('TILLER_SANDBOX_WALL_MS', get('sandbox-wall-ms', 'TILLER_SANDBOX_WALL_MS'), defaultRuntimeLimits.wallTimeMs, 10, 600_000),
      maxCodeBytes: integer('TILLER_MAX_CODE_BYTES', get('max-code-bytes', 'TILLER_MAX_CODE_BYTES'), defaultRuntimeLimits.maxCodeBytes, 1024, 16 * 1024 * 1024),
      maxIsolates: integer('TILLER_SANDBOX_MAX_ISOLATES', get('sandbox-max-isolates', 'TILLER_SANDBOX_MAX_ISOLATES'), 64, 1, 10_000),
      isolatesPerVersion: integer('TILLER_SANDBOX_ISOLATES_PER_VERSION', get('sandbox-isolates-per-version', 'TILLER_SANDBOX_ISOLATES_PER_VERSION'), 2, 1, 64),
      maxIsolatesPerWorkspace: integer(
        'TILLER_SANDBOX_MAX_ISOLATES_PER_WORKSPACE',
        get('sandbox-max-isolates-per-workspace', 'TILLER_SANDBOX_MAX_ISOLATES_PER_WORKSPACE'),
        16,
        1,
        10_000,
      ),
      maxOutputChars:
        1024 * 1024 * integer('TILLER_SANDBOX_MAX_OUTPUT_MB', get('sandbox-max-output-mb', 'TILLER_SANDBOX_MAX_OUTPUT_MB'), defaultRuntimeLimits.maxOutputChars / (1024 * 1024), 1, 1024),
      maxOutputsPerEvent: integer(
        'TILLER_SANDBOX_MAX_OUTPUTS_PER_EVENT',
        get('sandbox-max-outputs-per-event', 'TILLER_SANDBOX_MAX_OUTPUTS_PER_EVENT'),
        defaultRuntimeLimits.maxOutputsPerEvent,
        1,
        100_000,
      ),
      workspaceConcurrency: integer('TILLER_WORKSPACE_CONCURRENCY', get('workspace-concurrency', 'TILLER_WORKSPACE_CONCURRENCY'), 4, 1, 1024),
      processes: integer('TILLER_SANDBOX_PROCESSES', get('sandbox-processes', 'TILLER_SANDBOX_PROCESSES'), Math.max(2, availableParallelism()), 1, 256),
      processMaxRssMb: integer('TILLER_SANDBOX_PROCESS_MAX_RSS_MB', get('sandbox-process-max-rss-mb', 'TILLER_SANDBOX_PROCESS_MAX_RSS_MB'), 1024, 64, 65_536),
      quarantineSeconds: integer('TILLER_SANDBOX_QUARANTINE_SECONDS', get('sandbox-quarantine-seconds', 'TILLER_SANDBOX_QUARANTINE_SECONDS'), 60, 1, 86_400),
    },
    webDistDir: resolve(get('web-dir', 'TILLER_WEB_DIR') ?? join(projectRoot(), 'dist', 'web')),
    trustProxy: bool('TILLER_TRUST_PROXY', get('trust-proxy', 'TILLER_TRUST_PROXY'), false),
  };
  if (config.runtime.wallTimeMs < config.runtime.cpuTimeMs) {
    throw new ConfigError('TILLER_SANDBOX_WALL_MS', 'must be at least TILLER_SANDBOX_CPU_MS');
  }
  config.pepper = loadPepper(get('pepper', 'TILLER_PEPPER'), dataDir);
  return config;
}

/**
 * The pepper keys every token digest. It lives outside the database so a stolen database dump
 * cannot be brute-forced offline; generated once per data directory when not given.
 */
function loadPepper(given: string | undefined, dataDir: string): Buffer {
  if (given !== undefined) {
    if (given.length < 32) throw new ConfigError('TILLER_PEPPER', 'must be at least 32 characters');
    return Buffer.from(given, 'utf8');
  }
  const file = join(dataDir, 'pepper');
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8').trim();
    if (text.length < 32) throw new ConfigError('TILLER_PEPPER', `${file} is too short; delete it only if no tokens exist`);
    return Buffer.from(text, 'utf8');
  }
  mkdirSync(dataDir, { recursive: true });
  const text = randomBytes(32).toString('base64url');
  writeFileSync(file, text + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return Buffer.from(text, 'utf8');
}

function integer(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function oneOf<T extends string>(name: string, raw: string | undefined, allowed: readonly T[], fallback: T): T {
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${raw}"`);
  return raw as T;
}

function bool(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
}

function email(name: string, raw: string): string {
  if (!/^[^\s@]+@[^\s@]+$/.test(raw) || raw.length > 254) throw new ConfigError(name, `not an e-mail address: "${raw}"`);
  return raw.toLowerCase();
}

function validDatabaseUrl(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (!/^postgres(ql)?:\/\//.test(raw)) throw new ConfigError('DATABASE_URL', 'expected a postgres:// or postgresql:// URL');
  return raw;
}

/** The folder holding Tiller's package.json, whether running from src/ or from dist/server/. */
export function projectRoot(): string {
  let dir = import.meta.dirname;
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}
