import { useEffect, useMemo, useState } from 'react';
import { ApiError, publish, type Library, type PublishInput, type ResourceKind, type Transformation } from '../../api.js';
import { importedNames } from '../../code-analysis.js';
import { languageOf } from '../../language.js';
import { ActionDialog } from '../../components/ActionDialog.js';
import { ErrorAlert } from '../../components/Feedback.js';
import { formatDateSeconds, formatJson, plural } from '../../format.js';
import { useAction } from '../../use-action.js';
import type { VersionEntry } from './VersionsPanel.js';

export interface PublishTarget {
  entry: VersionEntry;
  isRollback: boolean;
}

/** Extra fields of an error envelope (e.g. which test events failed a publish), if any. */
function errorDetails(error: unknown): Record<string, unknown> | null {
  if (!(error instanceof ApiError)) return null;
  const envelope = (error.body && typeof error.body === 'object' ? error.body : {}) as Record<string, unknown>;
  const inner = (envelope.error && typeof envelope.error === 'object' ? envelope.error : {}) as Record<string, unknown>;
  const { code: _code, message: _message, line: _line, column: _column, ...rest } = inner;
  return Object.keys(rest).length > 0 ? rest : null;
}

interface FailedEvent {
  transformation: string;
  index?: number;
  message: string;
}

/** The per-event failures of a refused publish, in words (failedTestResults[].result.errors). */
function failedEvents(details: Record<string, unknown> | null): FailedEvent[] {
  const failures = Array.isArray(details?.failedTestResults) ? (details.failedTestResults as Record<string, unknown>[]) : [];
  return failures.flatMap((failure) => {
    const result = (failure.result ?? {}) as { message?: string; errors?: { index?: number; message?: string }[] };
    const name = typeof failure.name === 'string' ? failure.name : '';
    const errors = Array.isArray(result.errors) ? result.errors : [];
    if (errors.length === 0) return [{ transformation: name, message: result.message ?? 'the test failed' }];
    return errors.map((entry) => ({ transformation: name, index: entry.index, message: entry.message ?? 'failed' }));
  });
}

/** Why nothing was published: the message, each failed test event, and the full answer. */
function PublishFailure({ error }: { error: unknown }) {
  if (!error) return null;
  const details = errorDetails(error);
  const failures = failedEvents(details);
  return (
    <div>
      <ErrorAlert error={error} title="Nothing was published." />
      {failures.length > 0 ? (
        <ul data-testid="publish-failures">
          {failures.map((failure, position) => (
            <li key={position}>
              {failure.index !== undefined ? `Test event ${failure.index + 1}: ` : ''}
              {failure.message}
            </li>
          ))}
        </ul>
      ) : null}
      {details ? (
        <details>
          <summary>Full answer</summary>
          <pre className="result-block">{formatJson(details)}</pre>
        </details>
      ) : null}
    </div>
  );
}

function libraryState(library: Library): string {
  if (library.publishedVersionId === library.versionId) return ' (already live)';
  return library.publishedVersionId ? ' (an older version is live)' : ' (never published: needed for this version to run)';
}

export function PublishDialog({
  kind,
  target,
  libraries,
  testEvents,
  onClose,
  onPublished,
}: {
  kind: ResourceKind;
  target: PublishTarget | null;
  libraries: Library[];
  testEvents: unknown[] | null;
  onClose: () => void;
  onPublished: (target: PublishTarget) => void;
}) {
  const [withLibraries, setWithLibraries] = useState<Record<string, boolean>>({});
  const [useTestEvents, setUseTestEvents] = useState(true);
  const isTransformation = kind === 'transformation';

  const imported = useMemo(() => {
    if (!target || !isTransformation) return [];
    const version = target.entry.version as Transformation;
    const language = languageOf(version.language);
    const names = version.imports ?? importedNames(version.code ?? '', language);
    // Only libraries of the transformation's own language can be what it imports.
    return libraries.filter((library) => names.includes(library.importName) && languageOf(library.language) === language);
  }, [target, isTransformation, libraries]);

  const action = useAction(async (chosen: PublishTarget) => {
    const versionId = chosen.entry.version.versionId;
    const events = useTestEvents && testEvents && testEvents.length > 0 ? { testInput: testEvents } : {};
    const body: PublishInput = isTransformation
      ? {
          transformations: [{ versionId, ...events }],
          libraries: imported.filter((library) => withLibraries[library.id]).map((library) => ({ versionId: library.versionId })),
        }
      : { libraries: [{ versionId }] };
    await publish(body);
    onPublished(chosen);
  });

  const { reset } = action;
  useEffect(() => {
    if (!target) return;
    reset();
    setUseTestEvents(true);
    // Pre-select libraries whose latest version is not live yet (a rollback keeps live libraries).
    setWithLibraries(
      Object.fromEntries(
        imported.map((library) => [library.id, target.isRollback ? !library.publishedVersionId : library.publishedVersionId !== library.versionId]),
      ),
    );
  }, [target, imported, reset]);

  return (
    <ActionDialog
      title={target ? (target.isRollback ? `Roll back to ${target.entry.label}` : `Publish ${target.entry.label}`) : 'Publish'}
      open={target !== null}
      onClose={onClose}
      action={action}
      onConfirm={() => target && void action.run(target)}
      confirmLabel={target?.isRollback ? 'Roll back' : 'Publish'}
      busyLabel="Publishing…"
      autofocus="confirm"
    >
      {target ? (
        <div className="stack">
          <PublishFailure error={action.error} />
          <p>
            {target.entry.label} (created {formatDateSeconds(target.entry.version.createdAt)}) becomes the live version
            {isTransformation ? ': every event sent through this transformation runs it from now on.' : ' that transformations import.'}
          </p>
          {isTransformation ? (
            <>
              <p className="small muted">Tiller runs the version on test events first and publishes nothing if it fails.</p>
              <label className="check">
                <input
                  type="checkbox"
                  checked={useTestEvents && Boolean(testEvents?.length)}
                  disabled={!testEvents?.length}
                  onChange={(event) => setUseTestEvents(event.target.checked)}
                />
                {testEvents?.length
                  ? `Check with the ${plural(testEvents.length, 'event')} from the test panel (otherwise a default sample event)`
                  : 'The test panel holds no valid events: a default sample event is used'}
              </label>
              {imported.length > 0 ? (
                <fieldset>
                  <legend>Libraries this version imports</legend>
                  {imported.map((library) => (
                    <label className="check" key={library.id}>
                      <input
                        type="checkbox"
                        checked={Boolean(withLibraries[library.id])}
                        onChange={(event) => setWithLibraries({ ...withLibraries, [library.id]: event.target.checked })}
                      />
                      <span>
                        Also publish the latest version of <code>{library.importName}</code>
                        {libraryState(library)}
                      </span>
                    </label>
                  ))}
                </fieldset>
              ) : null}
            </>
          ) : null}
        </div>
      ) : null}
    </ActionDialog>
  );
}
