import { formatJson } from '../../format.js';

// What the test panel sends and reads back: the events typed in, and both answer forms (the run form and
// the compatible test form) read into one shape.

interface OutputEntry {
  index?: number;
  event: unknown;
}

interface ErrorEntry {
  index?: number;
  message: string;
}

export interface TestOutcome {
  outputs: OutputEntry[];
  errors: ErrorEntry[];
  /** Input positions the code dropped; null when the answer does not say. */
  dropped: number[] | null;
  logs: string[];
  inputCount: number;
  raw: unknown;
}

export function asRecord(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

export function logText(entry: unknown): string {
  if (typeof entry === 'string') return entry;
  if (Array.isArray(entry)) return entry.map((part) => (typeof part === 'string' ? part : formatJson(part))).join(' ');
  return formatJson(entry);
}

function errorText(value: unknown): string {
  if (typeof value === 'string') return value;
  const record = asRecord(value);
  for (const key of ['message', 'error', 'reason']) {
    const found = record[key];
    if (typeof found === 'string' && found) return found;
    if (found && typeof found === 'object') return errorText(found);
  }
  return formatJson(value);
}

function numberArray(value: unknown): number[] | null {
  return Array.isArray(value) && value.every((entry) => typeof entry === 'number') ? (value as number[]) : null;
}

/** One event outcome as the runtime reports it: `{ statusCode, output | error, index? }`. */
function addOutcome(entry: unknown, outcome: TestOutcome): void {
  const record = asRecord(entry);
  const index = typeof record.index === 'number' ? record.index : undefined;
  if (typeof record.statusCode === 'number' && ('output' in record || 'error' in record)) {
    if (record.statusCode >= 300 || 'error' in record) outcome.errors.push({ index, message: errorText(record.error ?? record) });
    else outcome.outputs.push({ index, event: record.output });
  } else {
    outcome.outputs.push({ index, event: entry });
  }
}

function droppedFromIndexes(outcome: TestOutcome): number[] | null {
  const seen = [...outcome.outputs, ...outcome.errors].map((entry) => entry.index);
  if (seen.some((index) => index === undefined)) return null;
  const present = new Set(seen);
  return Array.from({ length: outcome.inputCount }, (_, index) => index).filter((index) => !present.has(index));
}

/** Reads both answer shapes: the run form `{ results, dropped, logs }` and the compat test form. */
export function normalizeTestAnswer(answer: unknown, inputCount: number): TestOutcome {
  const outcome: TestOutcome = { outputs: [], errors: [], dropped: null, logs: [], inputCount, raw: answer };
  const root = asRecord(answer);
  if (Array.isArray(root.results)) {
    for (const entry of root.results) addOutcome(entry, outcome);
    outcome.dropped = numberArray(root.dropped) ?? droppedFromIndexes(outcome);
    if (Array.isArray(root.logs)) outcome.logs = root.logs.map(logText);
    return outcome;
  }
  const result = asRecord(root.result);
  const successes = Array.isArray(result.successTestResults) ? result.successTestResults : [];
  const failures = Array.isArray(result.failedTestResults) ? result.failedTestResults : [];
  for (const success of successes) {
    const detail = asRecord(asRecord(success).result);
    const output = asRecord(detail.output);
    const events = Array.isArray(output.transformedEvents) ? output.transformedEvents : Array.isArray(detail.output) ? detail.output : [];
    for (const entry of events) addOutcome(entry, outcome);
    outcome.dropped = numberArray(output.dropped) ?? numberArray(detail.dropped) ?? outcome.dropped;
    if (Array.isArray(detail.logs)) outcome.logs.push(...detail.logs.map(logText));
  }
  for (const failure of failures) {
    const record = asRecord(failure);
    const detail = record.result ?? record.error ?? record;
    const detailRecord = asRecord(detail);
    // Tiller lists each failed event (with its input index) next to a one-line summary.
    const eventErrors = Array.isArray(detailRecord.errors) ? detailRecord.errors.map(asRecord) : [];
    if (eventErrors.length > 0) {
      for (const entry of eventErrors) {
        outcome.errors.push({ index: typeof entry.index === 'number' ? entry.index : undefined, message: errorText(entry) });
      }
    } else {
      outcome.errors.push({ message: errorText(detail) });
    }
    const partial = asRecord(detailRecord.output).transformedEvents;
    if (Array.isArray(partial)) for (const entry of partial) addOutcome(entry, outcome);
    if (Array.isArray(detailRecord.logs)) outcome.logs.push(...detailRecord.logs.map(logText));
  }
  if (outcome.dropped === null && failures.length === 0) outcome.dropped = droppedFromIndexes(outcome);
  return outcome;
}

export type ParsedEvents = { ok: true; events: unknown[] } | { ok: false; message: string };

export function parseEvents(text: string): ParsedEvents {
  if (!text.trim()) return { ok: false, message: 'Paste a JSON array of events, or pick a sample.' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, message: `This is not valid JSON: ${(error as Error).message}` };
  }
  const events = Array.isArray(value) ? value : [value];
  if (events.length === 0) return { ok: false, message: 'The array is empty: add at least one event.' };
  const bad = events.findIndex((event) => !event || typeof event !== 'object' || Array.isArray(event));
  if (bad >= 0) return { ok: false, message: `Event ${bad + 1} is not a JSON object.` };
  return { ok: true, events };
}


/** What `metadata(event)` returns in a test: nothing given, one object for every event, or one per event. */
export type ParsedMetadata = { ok: true; metadata: Record<string, unknown>[] | null } | { ok: false; message: string };

export function parseMetadata(text: string, eventCount: number): ParsedMetadata {
  if (!text.trim()) return { ok: true, metadata: null };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, message: `This is not valid JSON: ${(error as Error).message}` };
  }
  const isObject = (entry: unknown): entry is Record<string, unknown> => Boolean(entry) && typeof entry === 'object' && !Array.isArray(entry);
  if (isObject(value)) return { ok: true, metadata: Array.from({ length: eventCount }, () => value) };
  if (!Array.isArray(value)) return { ok: false, message: 'Give a JSON object (used for every event) or an array with one object per event.' };
  if (value.length !== eventCount) return { ok: false, message: `The array has ${value.length} entries for ${eventCount} events: give one per event, or a single object.` };
  const bad = value.findIndex((entry) => !isObject(entry));
  if (bad >= 0) return { ok: false, message: `Entry ${bad + 1} is not a JSON object.` };
  return { ok: true, metadata: value as Record<string, unknown>[] };
}
