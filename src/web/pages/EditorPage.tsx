import { useId, useRef, useState } from 'react';
import { ApiError, createResource, updateResource, type Library, type ResourceKind } from '../api.js';
import { CodeEditor, type CodeEditorHandle, type EditorProblem } from '../components/CodeEditor.js';
import { ErrorAlert, Loading, useToast } from '../components/Feedback.js';
import { ReadOnlyNote } from '../components/ReadOnly.js';
import { href, navigate, useHashQuery } from '../router.js';
import { languageLabel, type Language } from '../language.js';
import { isUntouchedSample, samples } from '../samples.js';
import { canWrite as sessionCanWrite } from '../session.js';
import { useAction } from '../use-action.js';
import { DestinationsPanel } from './editor/DestinationsPanel.js';
import { DetailsFields } from './editor/DetailsFields.js';
import { BackLink, EditorHeader } from './editor/EditorHeader.js';
import { EditorTabs, type TabSpec } from './editor/EditorTabs.js';
import { LiveEventsPanel } from './editor/LiveEventsPanel.js';
import { problemFrom } from './editor/problems.js';
import { ProblemAlert } from './editor/ProblemAlert.js';
import { PublishDialog, type PublishTarget } from './editor/PublishDialog.js';
import { TestPanel } from './editor/TestPanel.js';
import { UsagePanel } from './editor/UsagePanel.js';
import { UseItPanel } from './editor/UseItPanel.js';
import { ReleasePanel } from './editor/ReleasePanel.js';
import { StatsPanel } from './editor/StatsPanel.js';
import { loadTestInput, saveTestInput, testInputKey } from './editor/test-input-store.js';
import { starterCode, useEditorData } from './editor/use-editor-data.js';
import { useSaveShortcut, useUnsavedChangesGuard } from './editor/use-editor-keys.js';
import { VersionsPanel } from './editor/VersionsPanel.js';

/** What the code must define, under the editor. */
function codeHint(isTransformation: boolean, python: boolean): string {
  if (python) {
    return isTransformation
      ? 'Define transformEvent(event, metadata) or transformBatch(events, metadata). Import libraries by their import name: from priceTools import to_cents. log(...) and print(...) record log lines.'
      : 'A Python module: define functions for Python transformations to import. Libraries may import only the standard library.';
  }
  return isTransformation
    ? 'Export transformEvent(event, metadata) or transformBatch(events, metadata). Import libraries by their import name.'
    : 'An ES module: export functions for transformations to import. Libraries cannot import other modules.';
}

type Tab = 'test' | 'versions' | 'usage' | 'destinations' | 'stats' | 'release' | 'live' | 'use';

export function EditorPage({ kind, id }: { kind: ResourceKind; id: string | null }) {
  const isTransformation = kind === 'transformation';
  const noun = isTransformation ? 'transformation' : 'library';
  const listPath = isTransformation ? '/transformations' : '/libraries';
  const listLabel = isTransformation ? 'transformations' : 'libraries';
  const canWrite = sessionCanWrite();

  const data = useEditorData(kind, id);
  const { resource, draft, setDraft, entries, publishedVersionId, loadResource, loadVersions, loadRelated } = data;
  const { name, description, code, language } = draft;
  const python = language === 'pythonfaas';
  const [nameError, setNameError] = useState<string | null>(null);
  const [problem, setProblem] = useState<EditorProblem | null>(null);
  const [runtimeError, setRuntimeError] = useState<EditorProblem | null>(null);
  // The open tab and the compared versions live in the address: reload and Back keep them.
  const [query, setQuery] = useHashQuery();
  const [publishTarget, setPublishTarget] = useState<PublishTarget | null>(null);
  const [testEvents, setTestEvents] = useState<unknown[] | null>(samples[0]?.events ?? null);
  const editorHandle = useRef<CodeEditorHandle>(null);
  const { notify } = useToast();
  const ids = { name: useId(), description: useId(), language: useId(), problem: useId() };

  const dirty = resource
    ? code !== resource.code || description !== (resource.description ?? '') || (isTransformation && name !== resource.name)
    : true;
  // A new page counts as work only once the user has typed something.
  const hasUnsavedWork = resource ? dirty : name.trim() !== '' || description.trim() !== '' || code !== starterCode(kind, language);
  useUnsavedChangesGuard(hasUnsavedWork && canWrite, noun);

  const saving = useAction(
    async (trimmed: string) => {
      setProblem(null);
      if (!id) {
        const created = await createResource(kind, { name: trimmed, description: description.trim(), code, language });
        notify(`Created ${noun} “${created.name}”: version 1 saved.`);
        navigate(`${listPath}/${encodeURIComponent(created.id)}`, { replace: true, force: true });
        return;
      }
      await updateResource(kind, id, isTransformation ? { name: trimmed, description, code } : { description, code });
      notify('Saved as a new version. The published version is unchanged until you publish.');
      await Promise.all([loadResource(), loadVersions()]);
    },
    { onError: (caught) => setProblem(problemFrom(caught) ?? (caught instanceof ApiError && caught.status === 400 ? { message: caught.message } : null)) },
  );
  const save = () => {
    if (!canWrite || saving.busy) return;
    const trimmed = name.trim();
    if (!trimmed) {
      setNameError(`Give the ${noun} a name.`);
      document.getElementById(ids.name)?.focus();
      return;
    }
    setNameError(null);
    void saving.run(trimmed);
  };
  useSaveShortcut(save);

  const changeLanguage = (next: Language) => {
    // Swap in the other language's sample only while the editor holds an untouched sample: typed
    // code stays, even if it no longer fits the language.
    setDraft({ language: next, ...(isUntouchedSample(kind, code) ? { code: starterCode(kind, next) } : {}) });
    setProblem(null);
    saving.reset();
  };

  if (id && data.loadError) {
    return (
      <div>
        <p>
          <BackLink listPath={listPath} listLabel={listLabel} />
        </p>
        <ErrorAlert error={data.loadError} title={`Could not open this ${noun}.`} onRetry={() => void loadResource()} />
      </div>
    );
  }
  if (id && !resource) return <Loading label={`Loading the ${noun}…`} />;

  const workspaceId = resource && 'workspaceId' in resource ? resource.workspaceId : undefined;
  const importName = !isTransformation ? (resource as Library | null)?.importName : undefined;
  const latestEntry = entries?.[0];
  const latestPublished = Boolean(resource && publishedVersionId === resource.versionId);
  const versionCount = data.versionCount === undefined ? '' : ` (${data.versionCount}${data.complete ? '' : '+'})`;

  const tabs: TabSpec<Tab>[] = [];
  if (isTransformation) tabs.push({ id: 'test', label: 'Test' });
  if (!isTransformation) tabs.push({ id: 'usage', label: 'How to import' });
  if (id) tabs.push({ id: 'versions', label: `Versions${versionCount}` });
  const destinationCount = resource && 'destinations' in resource ? (resource.destinations?.length ?? 0) : 0;
  if (id && isTransformation) tabs.push({ id: 'destinations', label: `Destinations (${destinationCount})` });
  if (id && isTransformation) tabs.push({ id: 'stats', label: 'Stats' });
  if (id && isTransformation) tabs.push({ id: 'release', label: 'Release' });
  if (id && isTransformation) tabs.push({ id: 'live', label: 'Live events' });
  if (id && isTransformation) tabs.push({ id: 'use', label: 'Use it' });
  const defaultTab = tabs[0]?.id ?? 'test';
  const activeTab = tabs.find((entry) => entry.id === query.get('tab'))?.id ?? defaultTab;
  const selectTab = (next: Tab) => setQuery({ tab: next === defaultTab ? null : next });

  return (
    <section aria-labelledby="editor-title" className="editor-layout">
      <EditorHeader
        noun={noun}
        listPath={listPath}
        listLabel={listLabel}
        resource={resource}
        latestEntry={latestEntry}
        publishedEntry={entries?.find((entry) => entry.version.versionId === publishedVersionId)}
        publishedVersionId={publishedVersionId}
        latestPublished={latestPublished}
        importName={importName}
        language={language}
        dirty={dirty}
        canWrite={canWrite}
        saving={saving.busy}
        onSave={save}
        onPublishLatest={(entry) => setPublishTarget({ entry, isRollback: false })}
      />

      {!canWrite ? <ReadOnlyNote id="editor-read-only">Your access token is read only: you can view and test, but not save or publish.</ReadOnlyNote> : null}

      <DetailsFields ids={ids} draft={draft} onChange={setDraft} onLanguageChange={changeLanguage} isTransformation={isTransformation} saved={Boolean(resource)} canWrite={canWrite} nameError={nameError} />

      <ProblemAlert id={ids.problem} saveError={saving.error} problem={problem} onGoTo={(placed) => editorHandle.current?.focusAt(placed.line, placed.column)} />

      {data.unknownImports.length > 0 ? (
        <div className="alert alert-warning">
          No library has the import name {data.unknownImports.map((entry) => `“${entry}”`).join(', ')}. <a href={href('/libraries')}>See libraries</a>.
        </div>
      ) : null}
      {data.otherLanguageImports.length > 0 ? (
        <div className="alert alert-warning">
          {data.otherLanguageImports.map((entry) => `“${entry}”`).join(', ')} {data.otherLanguageImports.length === 1 ? 'is a library' : 'are libraries'} in{' '}
          {python ? 'JavaScript' : 'Python'}: a {languageLabel(language)} transformation can only import {languageLabel(language)} libraries.
        </div>
      ) : null}

      <div>
        <CodeEditor
          value={code}
          language={language}
          onChange={(next) => setDraft({ code: next })}
          label={`${isTransformation ? 'Transformation' : 'Library'} code (${languageLabel(language)})`}
          problem={problem}
          runtimeError={runtimeError}
          readOnly={!canWrite}
          handleRef={editorHandle}
          describedBy={problem ? ids.problem : undefined}
        />
        <p className="small muted" style={{ margin: '4px 0 0' }}>
          {codeHint(isTransformation, python)} Tab moves focus out of the editor; Ctrl+S saves.
        </p>
      </div>

      <EditorTabs label={`${noun} tools`} tabs={tabs} active={activeTab} onSelect={selectTab}>
        {activeTab === 'test' ? (
          <TestPanel
            code={code}
            language={language}
            savedVersionId={resource && !dirty ? resource.versionId : null}
            savedVersionLabel={latestEntry?.version.versionId === resource?.versionId ? latestEntry?.label : undefined}
            libraries={data.importedLibraries}
            ownFileName={name.trim() || 'transformation'}
            onProblem={setProblem}
            onRuntimeError={setRuntimeError}
            onGoTo={(line, column) => editorHandle.current?.focusAt(line, column)}
            onEventsChange={setTestEvents}
            storageKey={workspaceId && id ? testInputKey(workspaceId, id) : null}
          />
        ) : null}
        {activeTab === 'versions' && id ? (
          <VersionsPanel
            kind={kind}
            language={language}
            resourceId={id}
            entries={entries}
            error={data.versionsError}
            complete={data.complete}
            publishedVersionId={publishedVersionId}
            canWrite={canWrite}
            compared={{ left: query.get('from'), right: query.get('to') }}
            onCompare={(left, right) => setQuery({ from: left, to: right }, { replace: true })}
            unsavedCode={resource && code !== resource.code ? code : null}
            onRetry={() => void loadVersions()}
            onPublish={(entry) => {
              const position = entries?.indexOf(entry) ?? -1;
              const livePosition = entries?.findIndex((candidate) => candidate.version.versionId === publishedVersionId) ?? -1;
              setPublishTarget({ entry, isRollback: livePosition >= 0 && position > livePosition });
            }}
            onLoadIntoEditor={(entry) => {
              setDraft({ code: entry.version.code ?? '' });
              setProblem(null);
              saving.reset();
              notify(`Loaded ${entry.label} into the editor. Save to make it the latest version.`);
            }}
          />
        ) : null}
        {activeTab === 'destinations' && id ? (
          <DestinationsPanel transformationId={id} published={Boolean(publishedVersionId)} canWrite={canWrite} onChanged={() => void loadResource({ keepEdits: true })} />
        ) : null}
        {activeTab === 'stats' && id ? (
          <StatsPanel
            transformationId={id}
            onOpenInTest={(event) => {
              // The Test tab reads its input from this browser's store when it opens.
              const key = workspaceId ? testInputKey(workspaceId, id) : null;
              saveTestInput(key, { events: JSON.stringify([event], null, 2), metadata: loadTestInput(key)?.metadata ?? '' });
              selectTab('test');
              notify('Loaded the failed event into the test panel.');
            }}
          />
        ) : null}
        {activeTab === 'release' && id ? <ReleasePanel transformationId={id} versions={entries ?? []} canWrite={canWrite} onChanged={() => void loadResource({ keepEdits: true })} /> : null}
        {activeTab === 'live' && id ? <LiveEventsPanel transformationId={id} published={Boolean(publishedVersionId)} connected={destinationCount} canWrite={canWrite} /> : null}
        {activeTab === 'use' && id ? (
          <UseItPanel transformationId={id} publishedVersionId={publishedVersionId} destinations={resource && 'destinations' in resource ? resource.destinations : undefined} />
        ) : null}
        {activeTab === 'usage' ? <UsagePanel importName={importName} code={code} language={language} usedBy={data.usedBy} /> : null}
      </EditorTabs>

      <PublishDialog
        kind={kind}
        target={publishTarget}
        libraries={data.libraries}
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
