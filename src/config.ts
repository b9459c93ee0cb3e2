import { randomBytes } from 'node:crypto';
import { accessSync, chmodSync, constants, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import proxyAddr from '@fastify/proxy-addr';
import { ensurePrivateDir, makeFilePrivate } from './private-files.js';
import { parseEgressAllowList } from './runtime/addresses.js';
import { defaultRuntimeLimits, type OutboundOptions, type RuntimeLimits } from './runtime/types.js';

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
  /** AES-256 key that seals secret workspace credentials; never stored in the database. */
  credentialsKey: Buffer;
  ownerEmail: string;
  authFailureLimit: number;
  authFailureWindowMs: number;
  tokenCacheSize: number;
  tokenCacheTtlMs: number;
  /** How long turning live events on keeps config.eventTransform served (TILLER_LIVE_EVENTS_SECONDS). */
  liveEventsWindowMs: number;
  /** Separate credential-free listener for /customTransform and the config-backend routes. */
  runtimeListener: { host: string; port: number } | undefined;
  /** Whether the main listener also accepts runtime/config-backend calls without credentials. */
  runtimeAuth: 'token' | 'none';
  /** Bearer token that GET /metrics needs on the main listener; while unset it is refused there. */
  metricsToken: string | undefined;
  /** Separate credential-free listener that serves GET /metrics and nothing else. */
  metricsListener: { host: string; port: number } | undefined;
  /** Whether per-version metrics carry workspace_id and version_id labels (off: one series per metric). */
  metricsTenantLabels: boolean;
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
    pythonInterpretersPerProcess: number;
  };
  /** fetch, fetchV2 and geolocation in user code (spec 7.5). */
  outbound: OutboundOptions;
  /** Where the built dashboard lives. */
  webDistDir: string;
  /**
   * Whose X-Forwarded-For entries to believe for the client address (request.ip): false (none: the
   * socket's peer is the client); a hop count (that many proxies in front, whatever their address);
   * trusted proxy addresses and CIDRs; or true (every entry, so the left-most, which the client writes).
   */
  trustProxy: boolean | number | string[];
  /** How long an instance keeps serving after SIGTERM turned /ready false, so load balancers stop routing to it first. */
  drainDelayMs: number;
  /** Whether `serve` applies pending migrations at start; off, it refuses a database that needs them. */
  migrateOnStart: boolean;
  /** Whether the credential-free runtime listener may bind to all interfaces or a public address. */
  runtimeAllowPublic: boolean;
  /** Per-transformation stats and recent errors of live traffic (TILLER_STATS*, TILLER_RECENT_ERRORS). */
  stats: { enabled: boolean; flushMs: number; retentionMs: number; errorsPerTransformation: number };
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
  const metricsPortRaw = get('metrics-port', 'TILLER_METRICS_PORT');

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
    credentialsKey: Buffer.alloc(0),
    ownerEmail: email('TILLER_OWNER_EMAIL', get('owner-email', 'TILLER_OWNER_EMAIL') ?? 'admin@localhost'),
    authFailureLimit: integer('TILLER_AUTH_FAILURE_LIMIT', get('auth-failure-limit', 'TILLER_AUTH_FAILURE_LIMIT'), 20, 0, 1_000_000),
    authFailureWindowMs:
      1000 * integer('TILLER_AUTH_FAILURE_WINDOW_SECONDS', get('auth-failure-window', 'TILLER_AUTH_FAILURE_WINDOW_SECONDS'), 60, 1, 86_400),
    tokenCacheSize: integer('TILLER_TOKEN_CACHE_SIZE', get('token-cache-size', 'TILLER_TOKEN_CACHE_SIZE'), 10_000, 0, 10_000_000),
    tokenCacheTtlMs: 1000 * integer('TILLER_TOKEN_CACHE_TTL_SECONDS', get('token-cache-ttl', 'TILLER_TOKEN_CACHE_TTL_SECONDS'), 30, 0, 3600),
    liveEventsWindowMs: 1000 * integer('TILLER_LIVE_EVENTS_SECONDS', get('live-events-seconds', 'TILLER_LIVE_EVENTS_SECONDS'), 900, 1, 86_400),
    runtimeListener:
      runtimePortRaw !== undefined
        ? { host: runtimeHost ?? '127.0.0.1', port: integer('TILLER_RUNTIME_PORT', runtimePortRaw, 0, 0, 65535) }
        : undefined,
    runtimeAuth: oneOf('TILLER_RUNTIME_AUTH', get('runtime-auth', 'TILLER_RUNTIME_AUTH'), ['token', 'none'] as const, 'token'),
    metricsToken: metricsToken(get('metrics-token', 'TILLER_METRICS_TOKEN')),
    metricsListener:
      metricsPortRaw !== undefined
        ? { host: get('metrics-host', 'TILLER_METRICS_HOST') ?? '127.0.0.1', port: integer('TILLER_METRICS_PORT', metricsPortRaw, 0, 0, 65535) }
        : undefined,
    metricsTenantLabels: bool('TILLER_METRICS_TENANT_LABELS', get('metrics-tenant-labels', 'TILLER_METRICS_TENANT_LABELS'), false),
    runtime: {
      memoryMb: integer('TILLER_SANDBOX_MEMORY_MB', get('sandbox-memory-mb', 'TILLER_SANDBOX_MEMORY_MB'), defaultRuntimeLimits.memoryMb, 8, 4096),
      cpuTimeMs: integer('TILLER_SANDBOX_CPU_MS', get('sandbox-cpu-ms', 'TILLER_SANDBOX_CPU_MS'), defaultRuntimeLimits.cpuTimeMs, 10, 600_000),
      wallTimeMs: integer('TILLER_SANDBOX_WALL_MS', get('sandbox-wall-ms', 'TILLER_SANDBOX_WALL_MS'), defaultRuntimeLimits.wallTimeMs, 10, 600_000),
      outboundWallTimeMs: integer(
        'TILLER_SANDBOX_OUTBOUND_WALL_MS',
        get('sandbox-outbound-wall-ms', 'TILLER_SANDBOX_OUTBOUND_WALL_MS'),
        defaultRuntimeLimits.outboundWallTimeMs,
        10,
        600_000,
      ),
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
      pythonInterpretersPerProcess: integer(
        'TILLER_PYTHON_INTERPRETERS_PER_PROCESS',
        get('python-interpreters-per-process', 'TILLER_PYTHON_INTERPRETERS_PER_PROCESS'),
        3,
        2,
        64,
      ),
    },
    outbound: {
      allow: addressRanges('TILLER_OUTBOUND_ALLOW', get('outbound-allow', 'TILLER_OUTBOUND_ALLOW')),
      timeoutMs: integer('TILLER_OUTBOUND_TIMEOUT_MS', get('outbound-timeout-ms', 'TILLER_OUTBOUND_TIMEOUT_MS'), 5000, 100, 600_000),
      maxResponseBytes: 1024 * 1024 * integer('TILLER_OUTBOUND_MAX_RESPONSE_MB', get('outbound-max-response-mb', 'TILLER_OUTBOUND_MAX_RESPONSE_MB'), 1, 1, 256),
      maxCallsPerBatch: integer('TILLER_OUTBOUND_MAX_CALLS_PER_BATCH', get('outbound-max-calls-per-batch', 'TILLER_OUTBOUND_MAX_CALLS_PER_BATCH'), 1000, 1, 1_000_000),
      maxRedirects: integer('TILLER_OUTBOUND_MAX_REDIRECTS', get('outbound-max-redirects', 'TILLER_OUTBOUND_MAX_REDIRECTS'), 5, 0, 20),
      geolocationDatabase: readableFile('TILLER_GEOLOCATION_DATABASE', get('geolocation-database', 'TILLER_GEOLOCATION_DATABASE')),
    },
    webDistDir: resolve(get('web-dir', 'TILLER_WEB_DIR') ?? join(projectRoot(), 'dist', 'web')),
    trustProxy: trustProxySetting('TILLER_TRUST_PROXY', get('trust-proxy', 'TILLER_TRUST_PROXY')),
    drainDelayMs: integer('TILLER_DRAIN_DELAY_MS', get('drain-delay-ms', 'TILLER_DRAIN_DELAY_MS'), 5000, 0, 600_000),
    migrateOnStart: bool('TILLER_MIGRATE_ON_START', get('migrate-on-start', 'TILLER_MIGRATE_ON_START'), true),
    runtimeAllowPublic: bool('TILLER_RUNTIME_ALLOW_PUBLIC', get('runtime-allow-public', 'TILLER_RUNTIME_ALLOW_PUBLIC'), false),
    stats: {
      enabled: bool('TILLER_STATS', get('stats', 'TILLER_STATS'), true),
      flushMs: 1000 * integer('TILLER_STATS_FLUSH_SECONDS', get('stats-flush-seconds', 'TILLER_STATS_FLUSH_SECONDS'), 10, 1, 3600),
      retentionMs: 86_400_000 * integer('TILLER_STATS_RETENTION_DAYS', get('stats-retention-days', 'TILLER_STATS_RETENTION_DAYS'), 14, 1, 3650),
      errorsPerTransformation: integer('TILLER_RECENT_ERRORS', get('recent-errors', 'TILLER_RECENT_ERRORS'), 50, 1, 1000),
    },
  };
  if (config.runtime.wallTimeMs < config.runtime.cpuTimeMs) {
    throw new ConfigError('TILLER_SANDBOX_WALL_MS', 'must be at least TILLER_SANDBOX_CPU_MS');
  }
  config.pepper = loadPepper(get('pepper', 'TILLER_PEPPER'), dataDir);
  config.credentialsKey = loadCredentialsKey(get('credentials-key', 'TILLER_CREDENTIALS_KEY'), dataDir);
  return config;
}

/**
 * Address ranges user code may reach although they are not public: CIDRs or single addresses,
 * separated by commas or spaces. Checked here so a typo fails at start, not on the first fetch.
 */
function addressRanges(name: string, raw: string | undefined): string[] {
  if (raw === undefined || raw.trim() === '') return [];
  try {
    return parseEgressAllowList(raw);
  } catch (error) {
    throw new ConfigError(name, `${error instanceof Error ? error.message : String(error)} (write addresses such as 10.1.0.0/16, 127.0.0.1 or fd00::/8)`);
  }
}

/** A file that must exist and be readable at start (its contents are checked where it is used). */
function readableFile(name: string, raw: string | undefined): string | null {
  if (raw === undefined || raw.trim() === '') return null;
  const path = resolve(raw);
  try {
    accessSync(path, constants.R_OK);
    if (!statSync(path).isFile()) throw new Error('not a file');
  } catch {
    throw new ConfigError(name, `${path} is not a readable file`);
  }
  return path;
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
    // A pepper written by an older Tiller, or copied in by hand, may be readable by others.
    makeFilePrivate(file);
    const text = readFileSync(file, 'utf8').trim();
    if (text.length < 32) throw new ConfigError('TILLER_PEPPER', `${file} is too short; delete it only if no tokens exist`);
    return Buffer.from(text, 'utf8');
  }
  ensurePrivateDir(dataDir);
  const text = randomBytes(32).toString('base64url');
  writeFileSync(file, text + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return Buffer.from(text, 'utf8');
}

export const CREDENTIALS_KEY_BYTES = 32;
const CREDENTIALS_KEY_FORMS = `${CREDENTIALS_KEY_BYTES} bytes written as 64 hex digits or as base64 (e.g. the output of \`openssl rand -base64 32\`)`;

/**
 * A credentials key as written in TILLER_CREDENTIALS_KEY or the key file, or what is wrong with the
 * text. Hex is tried first: 64 hex digits are valid base64 too, but would decode to 48 bytes. The
 * answer never repeats the text, which may be most of a real key.
 */
export function decodeCredentialsKey(text: string): { key: Buffer } | { problem: string } {
  const trimmed = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]+$/.test(trimmed) && trimmed.length === CREDENTIALS_KEY_BYTES * 2) key = Buffer.from(trimmed, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) key = Buffer.from(trimmed, 'base64');
  if (key?.length === CREDENTIALS_KEY_BYTES) return { key };
  return { problem: key ? `it decodes to ${key.length} bytes` : 'it is neither hex nor base64' };
}

/**
 * The key that seals secret workspace credentials (AES-256-GCM). Like the pepper it lives outside
 * the database, so a stolen dump holds no readable secret; generated once per data directory when
 * not given. Instances that share one PostgreSQL database must share this key too.
 */
function loadCredentialsKey(given: string | undefined, dataDir: string): Buffer {
  if (given !== undefined) {
    const decoded = decodeCredentialsKey(given);
    if ('problem' in decoded) throw new ConfigError('TILLER_CREDENTIALS_KEY', `must be ${CREDENTIALS_KEY_FORMS}; ${decoded.problem}`);
    return decoded.key;
  }
  const file = join(dataDir, 'credentials.key');
  const readKeyFile = (): Buffer => {
    // A key file copied in by hand may be readable by others.
    makeFilePrivate(file);
    const decoded = decodeCredentialsKey(readFileSync(file, 'utf8'));
    if ('problem' in decoded) {
      throw new ConfigError('TILLER_CREDENTIALS_KEY', `${file} must hold ${CREDENTIALS_KEY_FORMS}; ${decoded.problem}. Restore it from a backup: secret credentials cannot be read without it`);
    }
    return decoded.key;
  };
  if (existsSync(file)) return readKeyFile();
  ensurePrivateDir(dataDir);
  const key = randomBytes(CREDENTIALS_KEY_BYTES);
  try {
    writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // Another process on the same data directory wrote it first: use that one.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readKeyFile();
    throw err;
  }
  chmodSync(file, 0o600);
  return key;
}

/** Sent as `Authorization: Bearer <token>`, so printable ASCII without spaces; long enough not to guess. */
function metricsToken(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (!/^[\x21-\x7e]+$/.test(raw)) throw new ConfigError('TILLER_METRICS_TOKEN', 'must be printable ASCII without spaces');
  if (raw.length < 16 || raw.length > 1024) throw new ConfigError('TILLER_METRICS_TOKEN', `must be 16 to 1024 characters, got ${raw.length}`);
  return raw;
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

/** The names proxy-addr knows for the loopback, link-local and private ranges. */
const NAMED_RANGES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * TILLER_TRUST_PROXY: true/false, a hop count (0 is false), or a comma-separated list of proxy
 * addresses, CIDRs and named ranges, each checked by proxy-addr (what Fastify compiles them with).
 */
function trustProxySetting(name: string, raw: string | undefined): Config['trustProxy'] {
  if (raw === undefined) return false;
  const text = raw.trim().toLowerCase();
  if (['false', 'no', 'off'].includes(text)) return false;
  if (['true', 'yes', 'on'].includes(text)) return true;
  if (/^\d+$/.test(text)) {
    const hops = integer(name, text, 0, 0, 32);
    return hops === 0 ? false : hops;
  }
  const entries = raw.split(',').map((entry) => entry.trim());
  const expected = 'expected false, true, a hop count, or a comma-separated list of proxy addresses or CIDRs';
  for (const entry of entries) {
    if (NAMED_RANGES.includes(entry)) continue;
    // proxy-addr alone would also take forms such as "10.1" or "0x0a.0.0.1".
    if (isIP(entry.split('/')[0] ?? '') === 0) throw new ConfigError(name, `${JSON.stringify(entry)} is not an IP address or CIDR (${expected})`);
    try {
      proxyAddr.compile(entry);
    } catch (err) {
      throw new ConfigError(name, `${JSON.stringify(entry)}: ${(err as Error).message} (${expected})`);
    }
  }
  return entries;
}

/**
 * Fastify's trustProxy for the setting. Fastify 5 ignores a bare hop count (it then trusts nobody),
 * so a count becomes proxy-addr's per-hop function: hop 0 is the socket's peer, and the client is
 * the first address past the last trusted hop, counted from the right of X-Forwarded-For.
 */
export function fastifyTrustProxy(setting: Config['trustProxy']): boolean | string[] | ((address: string, hop: number) => boolean) {
  return typeof setting === 'number' ? (_address, hop) => hop < setting : setting;
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
