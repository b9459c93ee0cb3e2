// Messages between the server's pool (pool.ts) and a sandbox host process (host/main.ts). They
// travel over Node's IPC channel with the "advanced" (V8 structured clone) serialization, which
// copies strings as raw bytes: a batch crosses as one message each way, its events as one JSON
// string, measured at about 0.2 ms of server CPU for a 75 KB round trip.

import type { EncodedAnswer, EncodedBatch } from './host/engine.js';
import type { CodeAnalysis, RuntimeLanguage, RuntimeStats } from './types.js';

export type ToHost =
  | { t: 'run'; id: number; batch: EncodedBatch }
  | { t: 'analyze'; id: number; code: string; kind: 'transformation' | 'library'; language?: RuntimeLanguage }
  /** Finish nothing new, dispose every isolate and exit. */
  | { t: 'close' };

/** What a host says about itself with every answer and once a second. */
export interface HostReport {
  /** Its Python interpreters are counted in engine.pythonInterpreters and pythonRssBytes, not here. */
  engine: RuntimeStats;
  rssBytes: number;
  /** The host's own V8 heap (not its isolates') and memory outside any V8 heap that Node tracks. */
  heapTotalBytes: number;
  externalBytes: number;
}

export interface WireRunError {
  code: string;
  message: string;
  logs: string[];
}

export type FromHost =
  | { t: 'ready'; report: HostReport }
  | { t: 'ran'; id: number; answer: EncodedAnswer; report: HostReport }
  | { t: 'failed'; id: number; error: WireRunError; report: HostReport }
  | { t: 'analyzed'; id: number; analysis: CodeAnalysis }
  | { t: 'analyzeFailed'; id: number; error: WireRunError }
  | { t: 'report'; report: HostReport };

/**
 * A host that V8 gives up on writes one line of "last words" (JSON of this shape) to this file
 * descriptor, synchronously, before it kills itself: the pool learns which batch caused the crash.
 */
export const LAST_WORDS_FD = 4;

export interface LastWords {
  /** The run id of the batch whose isolate V8 gave up on; absent for the save-time compiler. */
  runTag?: string;
  message: string;
}
