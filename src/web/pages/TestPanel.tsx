import { useId, useMemo, useState } from 'react';
import { ApiError, testInlineCode, testSavedVersion, type Library } from '../api.js';
import { ErrorAlert } from '../components/Feedback.js';
import type { EditorProblem } from '../components/CodeEditor.js';
import { positionFromMessage, withoutPositionSuffix } from '../code-analysis.js';
import { formatJson, plural, shortId } from '../format.js';
import { samples } from '../samples.js';

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

function asRecord(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function logText(entry: unknown): string {
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

type ParsedEvents = { ok: true; events: unknown[] } | { ok: false; message: string };

function parseEvents(text: string): ParsedEvents {
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

interface TestPanelProps {
  code: string;
  /** The saved version to test, or null when the editor holds unsaved code. */
  savedVersionId: string | null;
  /** How the saved version is called on screen ("Version 3"). */
  savedVersionLabel?: string;
  libraries: Library[];
  onProblem: (problem: EditorProblem | null) => void;
  /** Lets the publish dialog reuse the events the user tested with. */
  onEventsChange?: (events: unknown[] | null) => void;
}

export function TestPanel({ code, savedVersionId, savedVersionLabel, libraries, onProblem, onEventsChange }: TestPanelProps) {
  const [text, setText] = useState(() => formatJson(samples[0]?.events ?? []));
  const [sampleId, setSampleId] = useState(samples[0]?.id ?? '');
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [outcome, setOutcome] = useState<TestOutcome | null>(null);
  const [ranOn, setRanOn] = useState<string>('');
  const [errorLogs, setErrorLogs] = useState<string[]>([]);
  const ids = { sample: useId(), events: useId(), eventsHint: useId() };
  const parsed = useMemo(() => parseEvents(text), [text]);

  function updateText(next: string) {
    setText(next);
    const result = parseEvents(next);
    onEventsChange?.(result.ok ? result.events : null);
  }

  async function run() {
    if (!parsed.ok) return;
    setRunning(true);
    setError(null);
    setOutcome(null);
    setErrorLogs([]);
    onProblem(null);
    const libraryVersions = libraries.map((library) => library.versionId);
    try {
      const answer = savedVersionId
        ? await testSavedVersion({
            transformations: [{ versionId: savedVersionId, testInput: parsed.events }],
            libraries: libraryVersions.map((versionId) => ({ versionId })),
          })
        : await testInlineCode({ code, libraries: libraryVersions, events: parsed.events });
      setOutcome(normalizeTestAnswer(answer, parsed.events.length));
      setRanOn(savedVersionId ? (savedVersionLabel ?? `version ${shortId(savedVersionId)}`) : 'the unsaved code in the editor');
    } catch (caught) {
      setError(caught);
      // A whole-batch failure (limit hit, transformBatch threw) still returns what the code logged.
      const logs = caught instanceof ApiError ? asRecord(asRecord(caught.body).error).logs : undefined;
      if (Array.isArray(logs)) setErrorLogs(logs.map(logText));
      if (caught instanceof ApiError && caught.status === 400) {
        const position = caught.line ? { line: caught.line, column: caught.column } : positionFromMessage(caught.message);
        if (position) onProblem({ message: withoutPositionSuffix(caught.message), ...position });
      }
    } finally {
      setRunning(false);
    }
  }

  const dropped = outcome?.dropped ?? null;
  return (
    <div className="stack" data-testid="test-panel">
      <div className="test-grid">
        <div>
          <div className="field">
            <label htmlFor={ids.sample}>Sample events</label>
            <div className="toolbar">
              <select id={ids.sample} value={sampleId} onChange={(event) => setSampleId(event.target.value)} style={{ flex: 1, width: 'auto' }}>
                {samples.map((sample) => (
                  <option key={sample.id} value={sample.id}>
                    {sample.label}
                  </option>
                ))}
              </select>
              <button
                type="button"
                onClick={() => {
                  const sample = samples.find((entry) => entry.id === sampleId);
                  if (sample) updateText(formatJson(sample.events));
                }}
              >
                Use sample
              </button>
            </div>
          </div>
          <div className="field">
            <label htmlFor={ids.events}>Test events (JSON array)</label>
            <textarea
              id={ids.events}
              rows={14}
              value={text}
              spellCheck={false}
              onChange={(event) => updateText(event.target.value)}
              aria-invalid={parsed.ok ? undefined : true}
              aria-describedby={ids.eventsHint}
            />
            <div id={ids.eventsHint} className={parsed.ok ? 'hint' : 'field-error'}>
              {parsed.ok ? `${plural(parsed.events.length, 'event')}. Each is a plain event (the message), as CI tests send them.` : parsed.message}
            </div>
          </div>
          <div className="toolbar">
            <button type="button" className="primary" onClick={run} disabled={running || !parsed.ok}>
              {running ? 'Running…' : 'Run test'}
            </button>
            <span className="small muted">
              {savedVersionId ? `Tests the saved ${savedVersionLabel ?? `version ${shortId(savedVersionId)}`}` : 'Tests the unsaved code in the editor'}
              {libraries.length > 0 ? ` with ${libraries.map((library) => library.importName).join(', ')} (latest)` : ''}.
            </span>
          </div>
        </div>
        <div aria-live="polite" aria-busy={running}>
          <h3>Result</h3>
          <ErrorAlert error={error} title="The test failed as a whole." />
          {error && errorLogs.length > 0 ? (
            <div>
              <h4 style={{ margin: '0 0 4px' }}>Logs before the failure</h4>
              <ol className="log-lines">
                {errorLogs.map((line, position) => (
                  <li key={position}>{line}</li>
                ))}
              </ol>
            </div>
          ) : null}
          {!outcome && !error ? <p className="muted">Run a test to see the transformed events, dropped events, errors and logs here. Nothing is saved or published.</p> : null}
          {outcome ? (
            <div className="stack" data-testid="test-result">
              <p className="small">
                Ran on {ranOn}: {plural(outcome.inputCount, 'input event')}, {plural(outcome.outputs.length, 'output event')}
                {dropped ? `, ${dropped.length} dropped` : ''}, {plural(outcome.errors.length, 'error')}.
              </p>
              {outcome.errors.length > 0 ? (
                <div className="alert alert-error" role="alert">
                  <strong>{outcome.errors.length === 1 ? 'One event failed' : `${outcome.errors.length} events failed`}</strong>
                  <ul style={{ margin: '4px 0 0', paddingLeft: 20 }}>
                    {outcome.errors.map((entry, position) => (
                      <li key={position}>
                        {entry.index !== undefined ? `Event ${entry.index + 1}: ` : ''}
                        {entry.message}
                      </li>
                    ))}
                  </ul>
                </div>
              ) : null}
              {dropped && dropped.length > 0 ? (
                <div className="alert alert-info">
                  Dropped (the code returned null or undefined): {dropped.map((index) => `event ${index + 1}`).join(', ')}.
                </div>
              ) : null}
              <div>
                <h4 style={{ margin: '0 0 4px' }}>Output events</h4>
                {outcome.outputs.length === 0 ? (
                  <p className="muted small">No output events.</p>
                ) : (
                  <ol className="result-list">
                    {outcome.outputs.map((entry, position) => (
                      <li key={position}>
                        <div className="result-head">
                          <span className="badge badge-ok">output {position + 1}</span>
                          {entry.index !== undefined ? <span className="muted">from event {entry.index + 1}</span> : null}
                        </div>
                        <pre className="result-block" data-testid="test-output">
                          {formatJson(entry.event)}
                        </pre>
                      </li>
                    ))}
                  </ol>
                )}
              </div>
              <div>
                <h4 style={{ margin: '0 0 4px' }}>Logs</h4>
                {outcome.logs.length === 0 ? (
                  <p className="muted small">
                    No logs. Call <code>log(...)</code> in the code to record some.
                  </p>
                ) : (
                  <ol className="log-lines">
                    {outcome.logs.map((line, position) => (
                      <li key={position}>{line}</li>
                    ))}
                  </ol>
                )}
              </div>
              <details>
                <summary>Raw response</summary>
                <pre className="result-block">{formatJson(outcome.raw)}</pre>
              </details>
            </div>
          ) : null}
        </div>
      </div>
    </div>
  );
}
