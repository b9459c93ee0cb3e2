import { useEffect, useId, useMemo, useState } from 'react';
import { ApiError, testInlineCode, testSavedVersion, type InlineTestInput, type Library } from '../../api.js';
import type { EditorProblem } from '../../components/CodeEditor.js';
import { CopyButton } from '../../components/CopyButton.js';
import { formatJson, plural, shortId } from '../../format.js';
import type { Language } from '../../language.js';
import { samples } from '../../samples.js';
import { useAction } from '../../use-action.js';
import type { GoToCode } from './ErrorFrames.js';
import { problemFrom } from './problems.js';
import { parseErrorFrames } from './stack-frames.js';
import { asRecord, logText, normalizeTestAnswer, parseEvents, parseMetadata, type TestOutcome } from './test-answer.js';
import { loadTestInput, saveTestInput } from './test-input-store.js';
import { BatchError, EventErrors, thrownAt } from './TestErrors.js';

interface TestPanelProps {
  code: string;
  /** The unsaved code's language: the inline test route needs it (a saved version knows its own). */
  language: Language;
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
  /** Where this browser keeps what the user typed (see test-input-store.ts); null keeps nothing. */
  storageKey: string | null;
}

/** What a run was started on: the code, and the name its own stack frames carry. */
interface RunTarget {
  code: string;
  ownFileName: string;
}

export function TestPanel({ code, language, savedVersionId, savedVersionLabel, libraries, ownFileName, onProblem, onRuntimeError, onGoTo, onEventsChange, storageKey }: TestPanelProps) {
  const [input, setInput] = useState(() => loadTestInput(storageKey) ?? { events: formatJson(samples[0]?.events ?? []), metadata: '' });
  const { events: text, metadata: metadataText } = input;
  const [sampleId, setSampleId] = useState(samples[0]?.id ?? '');
  const [outcome, setOutcome] = useState<TestOutcome | null>(null);
  const [ranOn, setRanOn] = useState<string>('');
  const [errorLogs, setErrorLogs] = useState<string[]>([]);
  const [target, setTarget] = useState<RunTarget | null>(null);
  const ids = { sample: useId(), events: useId(), eventsHint: useId(), metadata: useId(), metadataHint: useId() };
  const parsed = useMemo(() => parseEvents(text), [text]);
  const parsedMetadata = useMemo(() => parseMetadata(metadataText, parsed.ok ? parsed.events.length : 1), [metadataText, parsed]);
  const savedLabel = savedVersionId ? (savedVersionLabel ?? `version ${shortId(savedVersionId)}`) : null;

  // The publish dialog checks with the events shown here, including ones kept from an earlier visit.
  useEffect(() => onEventsChange?.(parsed.ok ? parsed.events : null), [parsed, onEventsChange]);

  function updateInput(change: Partial<typeof input>) {
    const next = { ...input, ...change };
    setInput(next);
    saveTestInput(storageKey, next);
  }

  const test = useAction(
    async (events: unknown[], metadata: Record<string, unknown>[] | null) => {
      setOutcome(null);
      setErrorLogs([]);
      setTarget({ code, ownFileName });
      onProblem(null);
      const libraryVersions = libraries.map((library) => library.versionId);
      // The inline route names the code after `name` in stack frames, as the saved path names it after
      // the saved transformation.
      const inline: InlineTestInput = { code, language, libraries: libraryVersions, events, name: ownFileName, ...(metadata ? { metadata } : {}) };
      // The saved-version route (compat) takes no metadata; with metadata the saved code, which is
      // what the editor holds then, runs on the inline route instead.
      const answer = savedVersionId && !metadata
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
  const run = () => parsed.ok && parsedMetadata.ok && void test.run(parsed.events, parsedMetadata.metadata);

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
                  if (sample) updateInput({ events: formatJson(sample.events) });
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
              onChange={(event) => updateInput({ events: event.target.value })}
              aria-invalid={parsed.ok ? undefined : true}
              aria-describedby={ids.eventsHint}
            />
            <div id={ids.eventsHint} className={parsed.ok ? 'hint' : 'field-error'}>
              {parsed.ok ? `${plural(parsed.events.length, 'event')}. Each is a plain event (the message), as CI tests send them.` : parsed.message}
              {storageKey ? ' Kept in this browser for this transformation.' : ''}
            </div>
          </div>
          <div className="field">
            <label htmlFor={ids.metadata}>Metadata (optional JSON)</label>
            <textarea
              id={ids.metadata}
              rows={3}
              value={metadataText}
              spellCheck={false}
              placeholder='{ "sourceId": "src-1", "destinationId": "dst-1" }'
              onChange={(event) => updateInput({ metadata: event.target.value })}
              aria-invalid={parsedMetadata.ok ? undefined : true}
              aria-describedby={ids.metadataHint}
            />
            <div id={ids.metadataHint} className={parsedMetadata.ok ? 'hint' : 'field-error'}>
              {parsedMetadata.ok ? (
                <>
                  What <code>metadata(event)</code> returns: one object for every event, or an array with one per event.
                </>
              ) : (
                parsedMetadata.message
              )}
            </div>
          </div>
          <div className="toolbar">
            <button type="button" className="primary" onClick={run} disabled={running || !parsed.ok || !parsedMetadata.ok}>
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
                  Dropped (the code returned {language === 'pythonfaas' ? 'None' : 'null or undefined'}): {dropped.map((index) => `event ${index + 1}`).join(', ')}.
                </div>
              ) : null}
              <div>
                <div className="result-head">
                  <h4 style={{ margin: 0 }}>Output events</h4>
                  {outcome.outputs.length > 1 ? <CopyButton className="small" label="Copy all" ariaLabel="Copy all output events" text={formatJson(outcome.outputs.map((entry) => entry.event))} /> : null}
                </div>
                {outcome.outputs.length === 0 ? (
                  <p className="muted small">No output events.</p>
                ) : (
                  <ol className="result-list">
                    {outcome.outputs.map((entry, position) => (
                      <li key={position}>
                        <div className="result-head">
                          <span className="badge badge-ok">output {position + 1}</span>
                          {entry.index !== undefined ? <span className="muted">from event {entry.index + 1}</span> : null}
                          <CopyButton className="small" label="Copy" ariaLabel={`Copy output ${position + 1}`} text={formatJson(entry.event)} />
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
                    No logs. Call <code>log(...)</code>
                    {language === 'pythonfaas' ? (
                      <>
                        {' '}
                        or <code>print(...)</code>
                      </>
                    ) : null}{' '}
                    in the code to record some.
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
