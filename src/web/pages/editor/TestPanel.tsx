import { useEffect, useId, useMemo, useState } from 'react';
import { ApiError, testInlineCode, testSavedVersion, type InlineTestInput, type Library } from '../../api.js';
import type { EditorProblem } from '../../components/CodeEditor.js';
import { formatJson, plural, shortId } from '../../format.js';
import { samples } from '../../samples.js';
import { useAction } from '../../use-action.js';
import type { GoToCode } from './ErrorFrames.js';
import { problemFrom } from './problems.js';
import { parseErrorFrames } from './stack-frames.js';
import { asRecord, logText, normalizeTestAnswer, parseEvents, type TestOutcome } from './test-answer.js';
import { BatchError, EventErrors, thrownAt } from './TestErrors.js';

interface TestPanelProps {
  code: string;
  /** The saved version to test, or null when the editor holds unsaved code. */
  savedVersionId: string | null;
  /** How the saved version is called on screen ("Version 3"). */
  savedVersionLabel?: string;
  libraries: Library[];
  /** What the runtime calls the tested code in stack frames: the transformation's name. */
  ownFileName: string;
  onProblem: (problem: EditorProblem | null) => void;
  /** Where the editor should mark the error the last run threw; null clears the mark. */
  onRuntimeError?: (problem: EditorProblem | null) => void;
  /** Moves the editor's cursor to a 1-based line and column (a stack frame was clicked). */
  onGoTo: GoToCode;
  /** Lets the publish dialog reuse the events the user tested with. */
  onEventsChange?: (events: unknown[] | null) => void;
}

/** What a run was started on: the code, and the name its own stack frames carry. */
interface RunTarget {
  code: string;
  ownFileName: string;
}

export function TestPanel({ code, savedVersionId, savedVersionLabel, libraries, ownFileName, onProblem, onRuntimeError, onGoTo, onEventsChange }: TestPanelProps) {
  const [text, setText] = useState(() => formatJson(samples[0]?.events ?? []));
  const [sampleId, setSampleId] = useState(samples[0]?.id ?? '');
  const [outcome, setOutcome] = useState<TestOutcome | null>(null);
  const [ranOn, setRanOn] = useState<string>('');
  const [errorLogs, setErrorLogs] = useState<string[]>([]);
  const [target, setTarget] = useState<RunTarget | null>(null);
  const ids = { sample: useId(), events: useId(), eventsHint: useId() };
  const parsed = useMemo(() => parseEvents(text), [text]);
  const savedLabel = savedVersionId ? (savedVersionLabel ?? `version ${shortId(savedVersionId)}`) : null;

  function updateText(next: string) {
    setText(next);
    const result = parseEvents(next);
    onEventsChange?.(result.ok ? result.events : null);
  }

  const test = useAction(
    async (events: unknown[]) => {
      setOutcome(null);
      setErrorLogs([]);
      setTarget({ code, ownFileName });
      onProblem(null);
      const libraryVersions = libraries.map((library) => library.versionId);
      // The inline route names the code after `name` in stack frames (else "transformation"), as the
      // saved path names it after the saved transformation. InlineTestInput in api.ts lacks the field.
      const inline: InlineTestInput & { name: string } = { code, libraries: libraryVersions, events, name: ownFileName };
      const answer = savedVersionId
        ? await testSavedVersion({
            transformations: [{ versionId: savedVersionId, testInput: events }],
            libraries: libraryVersions.map((versionId) => ({ versionId })),
          })
        : await testInlineCode(inline);
      setOutcome(normalizeTestAnswer(answer, events.length));
      setRanOn(savedLabel ?? 'the unsaved code in the editor');
    },
    {
      onError: (caught) => {
        // A whole-batch failure (limit hit, transformBatch threw) still returns what the code logged.
        const logs = caught instanceof ApiError ? asRecord(asRecord(caught.body).error).logs : undefined;
        if (Array.isArray(logs)) setErrorLogs(logs.map(logText));
        const placed = problemFrom(caught);
        if (placed) onProblem(placed);
      },
    },
  );
  const { busy: running, error } = test;
  const run = () => parsed.ok && void test.run(parsed.events);

  const dropped = outcome?.dropped ?? null;

  // Frames are read with the name the run was started under, so renaming afterwards changes nothing.
  const framesOf = target?.ownFileName ?? ownFileName;
  const eventErrors = useMemo(
    () => (outcome?.errors ?? []).map((entry) => ({ index: entry.index, error: parseErrorFrames(entry.message, framesOf) })),
    [outcome, framesOf],
  );
  const batchError = useMemo(
    () => (error ? parseErrorFrames(error instanceof Error ? error.message : String(error), framesOf) : null),
    [error, framesOf],
  );
  const thrown = useMemo(() => thrownAt(batchError, eventErrors), [batchError, eventErrors]);
  // The mark shows only while the editor holds the code that ran: any edit clears it (undoing back
  // to that code brings it back, as it is true again), and so does the next run.
  const mark = target && target.code === code ? thrown : null;
  useEffect(() => onRuntimeError?.(mark), [mark, onRuntimeError]);
  // The result goes away with the panel (another tab), and so must the mark that points into it.
  useEffect(() => () => onRuntimeError?.(null), [onRuntimeError]);
  const links = { libraries, onGoTo };

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
              {savedLabel ? `Tests the saved ${savedLabel}` : 'Tests the unsaved code in the editor'}
              {libraries.length > 0 ? ` with ${libraries.map((library) => library.importName).join(', ')} (latest)` : ''}.
            </span>
          </div>
        </div>
        <div aria-live="polite" aria-busy={running}>
          <h3>Result</h3>
          {batchError ? <BatchError caught={error} error={batchError} {...links} /> : null}
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
              {eventErrors.length > 0 ? <EventErrors errors={eventErrors} {...links} /> : null}
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
