// Runtime options with their defaults, checked once, and the input checks every run passes before
// it reaches a sandbox. Shared by the pool (server process) and the engine (sandbox host process),
// so both sides agree on limits and on what a valid batch is.

import {
  defaultRuntimeLimits,
  RunError,
  type RunInput,
  type OutboundOptions,
  type PythonOptions,
  type RuntimeCacheOptions,
  type RuntimeLimits,
  type RuntimeOptions,
} from './types.js';

export const defaultCacheOptions: RuntimeCacheOptions = {
  maxIsolates: 64,
  isolatesPerVersion: 2,
  maxIsolatesPerWorkspace: 16,
  maxTotalHeapMb: 2048,
  recycleHeapFraction: 0.5,
  maxRunsPerIsolate: 10_000,
  idleTtlMs: 10 * 60 * 1000,
};

/** Everything the engine needs, with defaults applied; plain data, so it can cross to a host process. */
export interface EngineSettings {
  limits: RuntimeLimits;
  cache: RuntimeCacheOptions;
  queueTimeoutMs: number;
  workspaceConcurrency: number;
  workspaceQueueLimit: number;
  logs: { maxLines: number; maxChars: number };
  outbound: OutboundOptions;
  python: PythonOptions;
}

export const defaultOutboundOptions: OutboundOptions = {
  allow: [],
  timeoutMs: 5000,
  maxResponseBytes: 1024 * 1024,
  maxCallsPerBatch: 1000,
  maxRedirects: 5,
  geolocationDatabase: null,
};

export function positiveNumber(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number`);
  return value;
}

export function engineSettingsOf(options: RuntimeOptions): EngineSettings {
  const limits: RuntimeLimits = { ...defaultRuntimeLimits };
  for (const key of Object.keys(defaultRuntimeLimits) as Array<keyof RuntimeLimits>) {
    limits[key] = positiveNumber(options.limits?.[key], defaultRuntimeLimits[key], `limits.${key}`);
  }
  const cache: RuntimeCacheOptions = { ...defaultCacheOptions, ...stripUndefined(options.cache ?? {}) };
  for (const key of ['maxIsolates', 'isolatesPerVersion', 'maxIsolatesPerWorkspace', 'maxTotalHeapMb', 'recycleHeapFraction', 'maxRunsPerIsolate'] as const) {
    positiveNumber(cache[key], 1, `cache.${key}`);
  }
  return {
    limits,
    cache,
    queueTimeoutMs: positiveNumber(options.queueTimeoutMs, limits.wallTimeMs, 'queueTimeoutMs'),
    workspaceConcurrency: positiveNumber(options.workspaceConcurrency, 4, 'workspaceConcurrency'),
    workspaceQueueLimit: positiveNumber(options.workspaceQueueLimit, 64, 'workspaceQueueLimit'),
    logs: {
      maxLines: positiveNumber(options.logs?.maxLines, 1000, 'logs.maxLines'),
      maxChars: positiveNumber(options.logs?.maxChars, 64 * 1024, 'logs.maxChars'),
    },
    outbound: outboundOptionsOf(options.outbound ?? {}),
    python: { interpretersPerProcess: Math.max(2, Math.floor(positiveNumber(options.python?.interpretersPerProcess, 3, 'python.interpretersPerProcess'))) },
  };
}

function outboundOptionsOf(options: Partial<OutboundOptions>): OutboundOptions {
  const given = { ...defaultOutboundOptions, ...stripUndefined(options) };
  for (const key of ['timeoutMs', 'maxResponseBytes', 'maxCallsPerBatch'] as const) positiveNumber(given[key], 1, `outbound.${key}`);
  if (!Number.isInteger(given.maxRedirects) || given.maxRedirects < 0) throw new RangeError('outbound.maxRedirects must be a whole number, 0 or more');
  if (!Array.isArray(given.allow) || given.allow.some((entry) => typeof entry !== 'string')) throw new RangeError('outbound.allow must be a list of address ranges');
  return given;
}

/** Refuses inputs that cannot be run at all; the message names what is wrong. */
export function validateInput(input: RunInput, limits: RuntimeLimits): void {
  if (!input || typeof input !== 'object') throw new RunError('invalid_input', 'run() needs an input object');
  if (typeof input.workspaceId !== 'string' || input.workspaceId === '') throw new RunError('invalid_input', 'workspaceId is required');
  const transformation = input.transformation;
  if (!transformation || typeof transformation.versionId !== 'string' || typeof transformation.code !== 'string') {
    throw new RunError('invalid_input', 'transformation needs a versionId and code');
  }
  if (!Array.isArray(input.events)) throw new RunError('invalid_input', 'events must be an array');
  if (input.metadata !== undefined && !Array.isArray(input.metadata)) throw new RunError('invalid_input', 'metadata must be an array');
  if (input.credentials !== undefined && (input.credentials === null || typeof input.credentials !== 'object' || Array.isArray(input.credentials))) {
    throw new RunError('invalid_input', 'credentials must be an object of values by key');
  }
  if (!Array.isArray(input.libraries)) throw new RunError('invalid_input', 'libraries must be an array');
  for (const library of input.libraries) {
    if (!library || typeof library.importName !== 'string' || typeof library.versionId !== 'string' || typeof library.code !== 'string') {
      throw new RunError('invalid_input', 'each library needs an importName, a versionId and code');
    }
  }
  const bytes = Buffer.byteLength(transformation.code, 'utf8');
  if (bytes > limits.maxCodeBytes) throw new RunError('code_too_large', `code is ${bytes} bytes; the limit is ${limits.maxCodeBytes} bytes`);
}

/** The batch as the JSON text that crosses into a sandbox. */
export function serializeBatch(input: RunInput): { eventsJson: string; metadataJson: string | null; credentialsJson: string | null; namesJson: string | null } {
  try {
    const metadataJson = typeof input.metadataJson === 'string' ? input.metadataJson : input.metadata !== undefined ? JSON.stringify(input.metadata) : null;
    const credentials = input.credentials;
    const credentialsJson = credentials && typeof credentials === 'object' && Object.keys(credentials).length > 0 ? JSON.stringify(credentials) : null;
    return { eventsJson: typeof input.eventsJson === 'string' ? input.eventsJson : JSON.stringify(input.events), metadataJson, credentialsJson, namesJson: namesJsonOf(input) };
  } catch (error) {
    throw new RunError('invalid_input', `events and metadata must be serializable as JSON (${error instanceof Error ? error.message : String(error)})`);
  }
}

/**
 * The names error frames show for the transformation and its libraries (`at f (<name>:3:11)`), or
 * null when the caller named nothing (frames then say "transformation" and the import name).
 */
function namesJsonOf(input: RunInput): string | null {
  const libraries: Record<string, string> = {};
  let named = typeof input.transformation.name === 'string';
  for (const library of input.libraries) {
    if (typeof library.name === 'string') {
      libraries[library.importName] = library.name;
      named = true;
    }
  }
  return named ? JSON.stringify({ transformation: input.transformation.name ?? 'transformation', libraries }) : null;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
