import { useCallback, useEffect, useId, useMemo, useRef, useState } from 'react';
import {
  ApiError,
  createResource,
  getResource,
  listLibraries,
  listTransformations,
  listVersions,
  publish,
  updateResource,
  type Library,
  type PublishInput,
  type Resource,
  type ResourceKind,
  type Transformation,
} from '../api.js';
import { exportedNames, importedNames, positionFromMessage, withoutPositionSuffix } from '../code-analysis.js';
import { CodeEditor, type CodeEditorHandle, type EditorProblem } from '../components/CodeEditor.js';
import { CopyButton } from '../components/CopyButton.js';
import { Dialog } from '../components/Dialog.js';
import { ErrorAlert, Loading, useToast } from '../components/Feedback.js';
import { formatDateSeconds, formatJson, plural, shortId } from '../format.js';
import { href, navigate, setNavigationGuard } from '../router.js';
import { defaultLibraryCode, defaultTransformationCode, samples } from '../samples.js';
import { getSession } from '../session.js';
import { TestPanel } from './TestPanel.js';
import { labelVersions, VersionsPanel, type VersionEntry } from './VersionsPanel.js';

const VERSION_PAGE = 100;

type Tab = 'test' | 'versions' | 'usage';

interface PublishTarget {
  entry: VersionEntry;
  isRollback: boolean;
}

function problemFrom(error: unknown): EditorProblem | null {
  if (!(error instanceof ApiError) || error.status !== 400) return null;
  const message = withoutPositionSuffix(error.message);
  if (error.line) return { message, line: error.line, column: error.column };
  const position = positionFromMessage(error.message);
  return position ? { message, ...position } : null;
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

function PublishDialog({
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
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [withLibraries, setWithLibraries] = useState<Record<string, boolean>>({});
  const [useTestEvents, setUseTestEvents] = useState(true);

  const imported = useMemo(() => {
    if (!target || kind !== 'transformation') return [];
    const version = target.entry.version as Transformation;
    const names = version.imports ?? importedNames(version.code ?? '');
    return libraries.filter((library) => names.includes(library.importName));
  }, [target, kind, libraries]);

  useEffect(() => {
    if (!target) return;
    setError(null);
    setUseTestEvents(true);
    // Pre-select libraries whose latest version is not live yet (a rollback keeps live libraries).
    setWithLibraries(
      Object.fromEntries(
        imported.map((library) => [
          library.id,
          target.isRollback ? !library.publishedVersionId : library.publishedVersionId !== library.versionId,
        ]),
      ),
    );
  }, [target, imported]);

  async function confirm() {
    if (!target) return;
    setBusy(true);
    setError(null);
    const versionId = target.entry.version.versionId;
    const body: PublishInput =
      kind === 'transformation'
        ? {
            transformations: [{ versionId, ...(useTestEvents && testEvents && testEvents.length > 0 ? { testInput: testEvents } : {}) }],
            libraries: imported.filter((library) => withLibraries[library.id]).map((library) => ({ versionId: library.versionId })),
          }
        : { libraries: [{ versionId }] };
    try {
      await publish(body);
      onPublished(target);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  const details = errorDetails(error);
  const failures = failedEvents(details);
  return (
    <Dialog
      title={target ? (target.isRollback ? `Roll back to ${target.entry.label}` : `Publish ${target.entry.label}`) : 'Publish'}
      open={target !== null}
      onClose={onClose}
      busy={busy}
      footer={
        <>
          <button type="button" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="button" className="primary" onClick={confirm} disabled={busy} data-autofocus>
            {busy ? 'Publishing…' : target?.isRollback ? 'Roll back' : 'Publish'}
          </button>
        </>
      }
    >
      {target ? (
        <div className="stack">
          {error ? (
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
          ) : null}
          <p>
            {target.entry.label} (created {formatDateSeconds(target.entry.version.createdAt)}) becomes the live version
            {kind === 'transformation' ? ': every event sent through this transformation runs it from now on.' : ' that transformations import.'}
          </p>
          {kind === 'transformation' ? (
            <>
              <p className="small muted">
                Tiller runs the version on test events first and publishes nothing if it fails.
              </p>
              <label className="check">
                <input type="checkbox" checked={useTestEvents && Boolean(testEvents?.length)} disabled={!testEvents?.length} onChange={(event) => setUseTestEvents(event.target.checked)} />
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
                        {library.publishedVersionId === library.versionId
                          ? ' (already live)'
                          : library.publishedVersionId
                            ? ' (an older version is live)'
                            : ' (never published: needed for this version to run)'}
                      </span>
                    </label>
                  ))}
                </fieldset>
              ) : null}
            </>
          ) : null}
        </div>
      ) : null}
    </Dialog>
  );
}

export function EditorPage({ kind, id }: { kind: ResourceKind; id: string | null }) {
  const isTransformation = kind === 'transformation';
  const noun = isTransformation ? 'transformation' : 'library';
  const listPath = isTransformation ? '/transformations' : '/libraries';
  const scopes = getSession().accessTokenInfo?.scopes;
  const canWrite = !scopes || scopes.includes('write');

  const [resource, setResource] = useState<Resource | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [code, setCode] = useState(isTransformation ? defaultTransformationCode : defaultLibraryCode);
  const [versions, setVersions] = useState<Resource[] | null>(null);
  const [versionsError, setVersionsError] = useState<unknown>(null);
  const [libraries, setLibraries] = useState<Library[]>([]);
  const [librariesLoaded, setLibrariesLoaded] = useState(false);
  const [usedBy, setUsedBy] = useState<Transformation[] | null>(null);
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [nameError, setNameError] = useState<string | null>(null);
  const [problem, setProblem] = useState<EditorProblem | null>(null);
  const [tab, setTab] = useState<Tab>(isTransformation ? 'test' : 'usage');
  const [publishTarget, setPublishTarget] = useState<PublishTarget | null>(null);
  const [testEvents, setTestEvents] = useState<unknown[] | null>(samples[0]?.events ?? null);
  const editorHandle = useRef<CodeEditorHandle>(null);
  const { notify } = useToast();
  const ids = { name: useId(), description: useId(), problem: useId() };

  const loadVersions = useCallback(async () => {
    if (!id) return;
    setVersionsError(null);
    try {
      setVersions(await listVersions(kind, id, VERSION_PAGE));
    } catch (caught) {
      setVersionsError(caught);
    }
  }, [kind, id]);

  const loadResource = useCallback(async (options: { keepEdits?: boolean } = {}) => {
    if (!id) return;
    setLoadError(null);
    try {
      const loaded = await getResource(kind, id);
      setResource(loaded);
      // A publish refreshes what is live without throwing away edits in progress.
      if (options.keepEdits) return;
      setName(loaded.name);
      setDescription(loaded.description ?? '');
      setCode(loaded.code ?? '');
    } catch (caught) {
      setLoadError(caught);
    }
  }, [kind, id]);

  const loadRelated = useCallback(async () => {
    try {
      if (isTransformation) {
        setLibraries(await listLibraries());
        setLibrariesLoaded(true);
      }
      else setUsedBy(await listTransformations());
    } catch {
      // Only decorations (import resolution, "used by") depend on this; the editor still works.
    }
  }, [isTransformation]);

  useEffect(() => {
    void loadResource();
    void loadVersions();
    void loadRelated();
  }, [loadResource, loadVersions, loadRelated]);

  const dirty = resource
    ? code !== resource.code || description !== (resource.description ?? '') || (isTransformation && name !== resource.name)
    : true;
  // A new page counts as work only once the user has typed something.
  const hasUnsavedWork = resource ? dirty : name.trim() !== '' || description.trim() !== '' || code !== (isTransformation ? defaultTransformationCode : defaultLibraryCode);

  useEffect(() => {
    if (!hasUnsavedWork || !canWrite) return;
    const warn = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener('beforeunload', warn);
    setNavigationGuard(() => window.confirm(`This ${noun} has unsaved changes. Leave without saving them?`));
    return () => {
      window.removeEventListener('beforeunload', warn);
      setNavigationGuard(null);
    };
  }, [hasUnsavedWork, canWrite, noun]);

  const publishedVersionId: string | null | undefined =
    resource && resource.publishedVersionId !== undefined
      ? resource.publishedVersionId
      : versions
        ? (versions.find((version) => version.isPublished)?.versionId ?? null)
        : undefined;

  const complete = versions !== null && versions.length < VERSION_PAGE;
  const entries = useMemo(() => (versions ? labelVersions(versions, complete) : null), [versions, complete]);
  const publishedEntry = entries?.find((entry) => entry.version.versionId === publishedVersionId);
  const latestEntry = entries?.[0];

  const importedLibraries = useMemo(() => {
    const names = importedNames(code);
    return libraries.filter((library) => names.includes(library.importName));
  }, [code, libraries]);
  const unknownImports = useMemo(() => {
    // Only once the workspace's libraries are known, so the warning never flashes while loading.
    if (!isTransformation || !librariesLoaded) return [];
    const known = new Set(libraries.map((library) => library.importName));
    return importedNames(code).filter((name) => !known.has(name));
  }, [code, libraries, isTransformation, librariesLoaded]);

  const save = useCallback(async () => {
    if (!canWrite || saving) return;
    const trimmed = name.trim();
    if (!trimmed) {
      setNameError(`Give the ${noun} a name.`);
      document.getElementById(ids.name)?.focus();
      return;
    }
    setNameError(null);
    setSaving(true);
    setSaveError(null);
    setProblem(null);
    try {
      if (!id) {
        const created = await createResource(kind, { name: trimmed, description: description.trim(), code });
        notify(`Created ${noun} “${created.name}”: version 1 saved.`);
        navigate(`${listPath}/${encodeURIComponent(created.id)}`, { replace: true, force: true });
        return;
      }
      await updateResource(kind, id, isTransformation ? { name: trimmed, description, code } : { description, code });
      notify('Saved as a new version. The published version is unchanged until you publish.');
      await Promise.all([loadResource(), loadVersions()]);
    } catch (caught) {
      setSaveError(caught);
      const placed = problemFrom(caught);
      setProblem(placed ?? (caught instanceof ApiError && caught.status === 400 ? { message: caught.message } : null));
    } finally {
      setSaving(false);
    }
  }, [canWrite, saving, name, noun, ids.name, id, kind, description, code, notify, listPath, isTransformation, loadResource, loadVersions]);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 's') {
        event.preventDefault();
        void save();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [save]);

  if (id && loadError) {
    return (
      <div>
        <p>
          <a href={href(listPath)}>← All {isTransformation ? 'transformations' : 'libraries'}</a>
        </p>
        <ErrorAlert error={loadError} title={`Could not open this ${noun}.`} onRetry={() => void loadResource()} />
      </div>
    );
  }
  if (id && !resource) return <Loading label={`Loading the ${noun}…`} />;

  const exports = exportedNames(code);
  const importName = !isTransformation ? (resource as Library | null)?.importName : undefined;
  const importLine = importName
    ? exports.named.length > 0
      ? `import { ${exports.named.slice(0, 3).join(', ')} } from "${importName}";`
      : exports.hasDefault
        ? `import ${importName} from "${importName}";`
        : `import * as ${importName} from "${importName}";`
    : null;
  const users = importName && usedBy ? usedBy.filter((item) => (item.imports ?? importedNames(item.code ?? '')).includes(importName)) : [];
  const latestPublished = Boolean(resource && publishedVersionId === resource.versionId);

  const tabs: { id: Tab; label: string }[] = [];
  if (isTransformation) tabs.push({ id: 'test', label: 'Test' });
  if (!isTransformation) tabs.push({ id: 'usage', label: 'How to import' });
  if (id) tabs.push({ id: 'versions', label: `Versions${versions ? ` (${versions.length}${complete ? '' : '+'})` : ''}` });
  const activeTab = tabs.some((entry) => entry.id === tab) ? tab : (tabs[0]?.id ?? 'test');

  return (
    <section aria-labelledby="editor-title" className="editor-layout">
      <div>
        <p style={{ margin: '0 0 4px' }}>
          <a href={href(listPath)}>← All {isTransformation ? 'transformations' : 'libraries'}</a>
        </p>
        <div className="page-head" style={{ marginBottom: 0 }}>
          <div>
            <h1 id="editor-title">{resource ? resource.name : `New ${noun}`}</h1>
            {resource ? (
              <div className="editor-status" data-testid="editor-status">
                <span>
                  Latest: <strong>{latestEntry?.label ?? shortId(resource.versionId)}</strong>
                </span>
                <span aria-hidden="true">·</span>
                <span data-testid="published-version">
                  {publishedVersionId === undefined ? (
                    'Checking what is published…'
                  ) : publishedVersionId === null ? (
                    <span className="badge">Not published</span>
                  ) : latestPublished ? (
                    <span className="badge badge-ok">Published: {publishedEntry?.label ?? shortId(publishedVersionId)} (latest)</span>
                  ) : (
                    <span className="badge badge-warn">Published: {publishedEntry?.label ?? shortId(publishedVersionId)} (not the latest)</span>
                  )}
                </span>
                {importName ? (
                  <>
                    <span aria-hidden="true">·</span>
                    <span>
                      Import name <code>{importName}</code>
                    </span>
                  </>
                ) : null}
                {dirty && canWrite ? <span className="badge badge-warn">Unsaved changes</span> : null}
              </div>
            ) : (
              <p>Write the code, test it on sample events, then save. Saving creates version 1; nothing runs until you publish.</p>
            )}
          </div>
          <div className="toolbar">
            <button type="button" className="primary" onClick={() => void save()} disabled={!canWrite || saving || (Boolean(resource) && !dirty)} title="Ctrl+S / ⌘S">
              {saving ? 'Saving…' : resource ? 'Save new version' : `Create ${noun}`}
            </button>
            {resource && latestEntry && canWrite ? (
              <button
                type="button"
                onClick={() => setPublishTarget({ entry: latestEntry, isRollback: false })}
                disabled={dirty || latestPublished}
                title={dirty ? 'Save your changes first' : latestPublished ? 'The latest version is already live' : undefined}
              >
                {latestPublished ? 'Latest is published' : 'Publish latest'}
              </button>
            ) : null}
          </div>
        </div>
      </div>

      {!canWrite ? (
        <div className="alert alert-info">Your access token has the read scope only: you can view and test, but not save or publish.</div>
      ) : null}

      <div className="editor-meta">
        <div className="field" style={{ marginBottom: 0 }}>
          <label htmlFor={ids.name}>Name</label>
          <input
            id={ids.name}
            type="text"
            value={name}
            maxLength={200}
            onChange={(event) => setName(event.target.value)}
            readOnly={!canWrite || (!isTransformation && Boolean(resource))}
            aria-invalid={nameError ? true : undefined}
            aria-describedby={nameError ? `${ids.name}-error` : !isTransformation && resource ? `${ids.name}-hint` : undefined}
            autoComplete="off"
          />
          {nameError ? (
            <div className="field-error" id={`${ids.name}-error`}>
              {nameError}
            </div>
          ) : !isTransformation && resource ? (
            <div className="hint" id={`${ids.name}-hint`}>
              A library's name fixes its import name, so it cannot change.
            </div>
          ) : !isTransformation ? (
            <div className="hint">Imported as the camelCase form of the name: “Price Tools” becomes <code>priceTools</code>.</div>
          ) : null}
        </div>
        <div className="field" style={{ marginBottom: 0 }}>
          <label htmlFor={ids.description}>Description (optional)</label>
          <input id={ids.description} type="text" value={description} maxLength={1000} onChange={(event) => setDescription(event.target.value)} readOnly={!canWrite} autoComplete="off" />
        </div>
      </div>

      {saveError ? (
        <div className="alert alert-error" role="alert" id={ids.problem} data-testid="save-error">
          <strong>Not saved. </strong>
          {problem?.line ? (
            <>
              Line {problem.line}
              {problem.column ? `, column ${problem.column}` : ''}: {problem.message}{' '}
              <button type="button" className="link" onClick={() => problem.line && editorHandle.current?.focusAt(problem.line, problem.column)}>
                Go to line {problem.line}
              </button>
            </>
          ) : (
            <span>{saveError instanceof Error ? saveError.message : String(saveError)}</span>
          )}
          {saveError instanceof ApiError && saveError.requestId ? (
            <div className="request-id">
              Request id: <code>{saveError.requestId}</code>
            </div>
          ) : null}
        </div>
      ) : problem?.line ? (
        <div className="alert alert-error" role="alert" id={ids.problem}>
          Line {problem.line}
          {problem.column ? `, column ${problem.column}` : ''}: {problem.message}{' '}
          <button type="button" className="link" onClick={() => problem.line && editorHandle.current?.focusAt(problem.line, problem.column)}>
            Go to line {problem.line}
          </button>
        </div>
      ) : null}

      {unknownImports.length > 0 ? (
        <div className="alert alert-warning">
          No library has the import name {unknownImports.map((entry) => `“${entry}”`).join(', ')}. <a href={href('/libraries')}>See libraries</a>.
        </div>
      ) : null}

      <div>
        <CodeEditor
          value={code}
          onChange={setCode}
          label={`${isTransformation ? 'Transformation' : 'Library'} code (JavaScript)`}
          problem={problem}
          readOnly={!canWrite}
          handleRef={editorHandle}
          describedBy={problem ? ids.problem : undefined}
        />
        <p className="small muted" style={{ margin: '4px 0 0' }}>
          {isTransformation
            ? 'Export transformEvent(event, metadata) or transformBatch(events, metadata). Import libraries by their import name. Tab moves focus out of the editor; Ctrl+S saves.'
            : 'An ES module: export functions for transformations to import. Libraries cannot import other modules. Tab moves focus out of the editor; Ctrl+S saves.'}
        </p>
      </div>

      {tabs.length > 0 ? (
        <div className="card">
          <div className="tabs" role="tablist" aria-label={`${noun} tools`}>
            {tabs.map((entry) => (
              <button
                key={entry.id}
                type="button"
                role="tab"
                id={`tab-${entry.id}`}
                aria-selected={activeTab === entry.id}
                aria-controls={`panel-${entry.id}`}
                tabIndex={activeTab === entry.id ? 0 : -1}
                onClick={() => setTab(entry.id)}
                onKeyDown={(event) => {
                  if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return;
                  const position = tabs.findIndex((candidate) => candidate.id === activeTab);
                  const next = tabs[(position + (event.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length];
                  if (next) {
                    setTab(next.id);
                    document.getElementById(`tab-${next.id}`)?.focus();
                  }
                }}
              >
                {entry.label}
              </button>
            ))}
          </div>
          <div role="tabpanel" id={`panel-${activeTab}`} aria-labelledby={`tab-${activeTab}`}>
            {activeTab === 'test' ? (
              <TestPanel
                code={code}
                savedVersionId={resource && !dirty ? resource.versionId : null}
                savedVersionLabel={latestEntry?.version.versionId === resource?.versionId ? latestEntry?.label : undefined}
                libraries={importedLibraries}
                onProblem={setProblem}
                onEventsChange={setTestEvents}
              />
            ) : null}
            {activeTab === 'versions' && id ? (
              <VersionsPanel
                kind={kind}
                resourceId={id}
                entries={entries}
                error={versionsError}
                complete={complete}
                publishedVersionId={publishedVersionId}
                canWrite={canWrite}
                unsavedCode={resource && code !== resource.code ? code : null}
                onRetry={() => void loadVersions()}
                onPublish={(entry) => {
                  const position = entries?.indexOf(entry) ?? -1;
                  const livePosition = entries?.findIndex((candidate) => candidate.version.versionId === publishedVersionId) ?? -1;
                  setPublishTarget({ entry, isRollback: livePosition >= 0 && position > livePosition });
                }}
                onLoadIntoEditor={(entry) => {
                  setCode(entry.version.code ?? '');
                  setProblem(null);
                  setSaveError(null);
                  notify(`Loaded ${entry.label} into the editor. Save to make it the latest version.`);
                }}
              />
            ) : null}
            {activeTab === 'usage' ? (
              <div className="stack">
                {importName && importLine ? (
                  <>
                    <p>
                      Transformations import this library as <code>{importName}</code>:
                    </p>
                    <div className="import-snippet">
                      <pre className="code-sample" style={{ flex: 1 }}>
                        {importLine}
                      </pre>
                      <CopyButton text={importLine} label="Copy import" />
                    </div>
                    <p className="small muted">
                      Named, default and namespace imports all work: <code>{`import * as ${importName} from "${importName}";`}</code>
                    </p>
                    <h3>Used by</h3>
                    {usedBy === null ? (
                      <Loading label="Looking for transformations that import it…" />
                    ) : users.length === 0 ? (
                      <p className="muted">No transformation imports it yet.</p>
                    ) : (
                      <ul>
                        {users.map((item) => (
                          <li key={item.id}>
                            <a href={href(`/transformations/${encodeURIComponent(item.id)}`)}>{item.name}</a>
                          </li>
                        ))}
                      </ul>
                    )}
                  </>
                ) : (
                  <p className="muted">
                    After you create the library, Tiller gives it an import name derived from its name, and transformations import its exports
                    with <code>{'import { name } from "importName";'}</code>
                  </p>
                )}
              </div>
            ) : null}
          </div>
        </div>
      ) : null}

      <PublishDialog
        kind={kind}
        target={publishTarget}
        libraries={libraries}
        testEvents={testEvents}
        onClose={() => setPublishTarget(null)}
        onPublished={(target) => {
          setPublishTarget(null);
          notify(`${target.isRollback ? 'Rolled back to' : 'Published'} ${target.entry.label}.`);
          void Promise.all([loadResource({ keepEdits: true }), loadVersions(), loadRelated()]);
        }}
      />
    </section>
  );
}
