// Host side of the batch wire format (see bootstrap.ts): turns the sandbox's one output string into
// RunOutput, or a RunError for whole-batch failures. The framing is validated strictly, so output
// from a module that broke its own runtime can only fail its batch, never confuse the host.
//
// Output events are parsed lazily: each outcome keeps the JSON text the sandbox produced, and
// `output` parses it on first access. Callers that only forward events (the serving endpoints) can
// splice `outputJsonOf(outcome)` into their response and never parse or re-serialize them.

import { KIND_BATCH, KIND_BATCH_INVALID, KIND_BATCH_THREW, KIND_EVENTS, KIND_OUTPUT_LIMIT, MAX_OUTPUT_DEPTH, OUTCOME_DROPPED, OUTCOME_FAILED, OUTCOME_KEPT } from './bootstrap.js';
import { RunError, type EventOutcome, type RunOutput } from './types.js';

// outputJsonOf() reads an outcome's `output` getter in "peek" mode, in which the getter hands over
// its JSON text instead of parsing it. A per-object WeakMap would do the same at twice the cost.
let peeking = false;
let peeked: string | undefined;

/**
 * The output event of a 200 outcome as JSON text, exactly as the sandbox serialized it (no parse,
 * no re-serialization). After `outcome.output` is replaced, the new value is serialized instead.
 */
export function outputJsonOf(outcome: EventOutcome): string {
  if (outcome.statusCode !== 200) throw new TypeError('only a 200 outcome has an output');
  peeking = true;
  peeked = undefined;
  let value: unknown;
  try {
    value = outcome.output;
  } finally {
    peeking = false;
  }
  const json = peeked;
  peeked = undefined;
  return json ?? JSON.stringify(value);
}

function keptOutcome(index: number, json: string): EventOutcome {
  let parsed: Record<string, unknown> | undefined;
  let replaced = false;
  return {
    index,
    statusCode: 200 as const,
    get output(): Record<string, unknown> {
      if (peeking && !replaced) {
        peeked = json;
        return undefined as unknown as Record<string, unknown>;
      }
      parsed ??= JSON.parse(json) as Record<string, unknown>;
      return parsed;
    },
    set output(value: Record<string, unknown>) {
      parsed = value;
      replaced = true;
    },
  };
}

function corrupt(detail: string): RunError {
  return new RunError('invalid_output', `the sandbox produced malformed output (${detail})`);
}

/** Longest failure message the runner writes for one event (its maxErrorChars, plus the ellipsis). */
export const MAX_ERROR_CHARS = 2001;

/** The output bounds a batch answer is held to (RuntimeLimits' names). */
export interface OutputBounds {
  maxOutputChars: number;
  maxOutputsPerEvent: number;
}

/** The message of an output_limit failure; the bootstrap writes the same words. */
export function outputSizeMessage(maxOutputChars: number): string {
  return `the batch's output is larger than the ${Math.round(maxOutputChars / (1024 * 1024))} MB output limit`;
}

export function outputCountMessage(maxOutputsPerEvent: number): string {
  return `the transformation returned more than ${maxOutputsPerEvent} output events for one input event (the limit)`;
}

export interface DecodeOptions {
  /**
   * Only check the answer, output events' JSON included (the sandbox host process does, so that only
   * valid JSON ever reaches the server, which splices the text into its answers unparsed). A
   * whole-batch failure the answer reports is then not thrown: it is a valid answer.
   */
  checkOnly?: boolean;
}

/**
 * Decodes one batch answer and holds it to the contract, whatever the code inside the isolate did
 * to its own runtime: indexes within the batch, every input of a transformEvent run accounted for
 * exactly once (one failure, one drop, or up to maxOutputsPerEvent outputs), output events that are
 * JSON objects, and the output bounds. Anything else fails the batch (RunError), never a neighbour.
 */
export function decodeBatchOutput(encoded: string, eventCount: number, bounds: OutputBounds, options: DecodeOptions = {}): RunOutput {
  // Before any splitting: an honest answer is its outputs (at most maxOutputChars), at most one
  // failure message per event (MAX_ERROR_CHARS), the header (some 20 characters per outcome) and at
  // most 64 KB of logs.
  const honestMost = bounds.maxOutputChars * 1.25 + eventCount * (MAX_ERROR_CHARS + 32) + 2 * 1024 * 1024;
  if (encoded.length > honestMost) throw new RunError('output_limit', outputSizeMessage(bounds.maxOutputChars));
  const colon = encoded.indexOf(':');
  const headerLength = colon > 0 && colon <= 16 ? Number(encoded.slice(0, colon)) : NaN;
  if (!Number.isSafeInteger(headerLength) || headerLength < 0 || colon + 1 + headerLength > encoded.length) throw corrupt('header length');
  const header = encoded.slice(colon + 1, colon + 1 + headerLength);
  const fields = header.split(',');
  // The header always ends with a comma, so the last field is empty.
  if (fields.pop() !== '') throw corrupt('header terminator');
  const numbers = fields.map(Number);
  for (const value of numbers) if (!Number.isSafeInteger(value)) throw corrupt('header field');

  let at = 0;
  const next = (): number => {
    if (at >= numbers.length) throw corrupt('header too short');
    return numbers[at++] as number;
  };
  let offset = colon + 1 + headerLength;
  const take = (length: number): string => {
    if (length < 0 || offset + length > encoded.length) throw corrupt('body length');
    const text = encoded.slice(offset, offset + length);
    offset += length;
    return text;
  };

  const kind = next();
  const logCount = next();
  const logsDropped = next();
  if (logCount < 0 || logsDropped < 0) throw corrupt('log count');
  const logs: string[] = [];
  for (let i = 0; i < logCount; i++) logs.push(take(next()));
  if (logsDropped > 0) logs.push(`[tiller] ${logsDropped} more log lines were dropped (log limit reached)`);

  if (kind === KIND_BATCH_THREW || kind === KIND_BATCH_INVALID || kind === KIND_OUTPUT_LIMIT) {
    next();
    next();
    const message = take(next());
    if (at !== numbers.length || offset !== encoded.length) throw corrupt('trailing data');
    if (options.checkOnly) return { results: [], dropped: [], logs };
    const code = kind === KIND_BATCH_THREW ? 'batch_error' : kind === KIND_OUTPUT_LIMIT ? 'output_limit' : 'invalid_output';
    throw new RunError(code, message, logs);
  }
  if (kind !== KIND_EVENTS && kind !== KIND_BATCH) throw corrupt('kind');

  const results: EventOutcome[] = [];
  const dropped: number[] = [];
  const seen = kind === KIND_BATCH ? new Uint8Array(eventCount) : null;
  const maxEntries = kind === KIND_BATCH ? bounds.maxOutputsPerEvent * Math.max(1, eventCount) : Infinity;
  let outputChars = 0;
  let entries = 0;
  // transformEvent: entries come in input order, every input once (a run of outputs, one failure or one drop).
  let current = -1;
  let currentClosed = false;
  let currentOutputs = 0;
  while (at < numbers.length) {
    const index = next();
    const status = next();
    const length = next();
    if (index < 0 || (kind === KIND_EVENTS && index >= eventCount)) throw corrupt('index');
    if (kind === KIND_EVENTS) {
      if (index === current) {
        if (currentClosed || status !== OUTCOME_KEPT) throw corrupt('outcomes of one event');
      } else if (index === current + 1) {
        current = index;
        currentOutputs = 0;
        currentClosed = status !== OUTCOME_KEPT;
      } else {
        throw corrupt('event order');
      }
    }
    if (status === OUTCOME_KEPT) {
      const json = take(length);
      if (json.charCodeAt(0) !== 123 || json.charCodeAt(json.length - 1) !== 125) throw corrupt('output event');
      outputChars += length;
      if (outputChars > bounds.maxOutputChars) throw new RunError('output_limit', outputSizeMessage(bounds.maxOutputChars), logs);
      if (kind === KIND_EVENTS && ++currentOutputs > bounds.maxOutputsPerEvent) throw new RunError('output_limit', outputCountMessage(bounds.maxOutputsPerEvent), logs);
      entries++;
      // Checking only: the JSON must parse, and nothing is built from it.
      if (options.checkOnly) checkObjectJson(json);
      else results.push(keptOutcome(index, json));
    } else if (status === OUTCOME_FAILED) {
      entries++;
      const error = take(length);
      if (!options.checkOnly) results.push({ index, statusCode: 400, error });
    } else if (status === OUTCOME_DROPPED && kind === KIND_EVENTS && length === 0) {
      dropped.push(index);
    } else {
      throw corrupt('status');
    }
    if (entries > maxEntries) throw new RunError('output_limit', outputCountMessage(bounds.maxOutputsPerEvent), logs);
    if (seen && index < eventCount) seen[index] = 1;
  }
  if (offset !== encoded.length) throw corrupt('trailing data');
  if (kind === KIND_EVENTS && current !== eventCount - 1) throw corrupt('missing events');
  // transformBatch: an input no output traces back to was dropped.
  if (seen) for (let i = 0; i < eventCount; i++) if (seen[i] === 0) dropped.push(i);
  return { results, dropped, logs };
}

/** Throws unless `json` is one JSON object: the text is spliced into answers as it is. */
function checkObjectJson(json: string): void {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw corrupt('output event is not JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw corrupt('output event is not a JSON object');
  if (json.length > 2 * MAX_OUTPUT_DEPTH && nestsDeeperThan(json, MAX_OUTPUT_DEPTH)) throw corrupt('output event nests too deeply');
}

/** The runner's depth rule (bootstrap.ts), checked again: only text longer than 2 * max can nest deeper. */
function nestsDeeperThan(json: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

/**
 * Decodes a batch answer and, when the code left an unhandled promise rejection behind, adds a log
 * line for it (to the output's logs, or to the RunError's when the batch failed).
 */
export function withStrayRejection(decode: () => RunOutput, strayRejection: string | undefined): RunOutput {
  const line = strayRejection === undefined ? undefined : `[tiller] unhandled promise rejection: ${strayRejection}`;
  let output: RunOutput;
  try {
    output = decode();
  } catch (error) {
    if (line !== undefined && error instanceof RunError) error.logs.push(line);
    throw error;
  }
  if (line !== undefined) output.logs.push(line);
  return output;
}
