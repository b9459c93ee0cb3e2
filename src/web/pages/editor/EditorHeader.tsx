import type { Resource } from '../../api.js';
import { shortId } from '../../format.js';
import { LanguageBadge } from '../../components/LanguageBadge.js';
import type { Language } from '../../language.js';
import { href } from '../../router.js';
import type { VersionEntry } from './VersionsPanel.js';

export function BackLink({ listPath, listLabel }: { listPath: string; listLabel: string }) {
  return <a href={href(listPath)}>← All {listLabel}</a>;
}

/** Which version is live, relative to the latest one. */
function PublishedState({ publishedVersionId, publishedEntry, latestPublished }: { publishedVersionId: string | null | undefined; publishedEntry: VersionEntry | undefined; latestPublished: boolean }) {
  if (publishedVersionId === undefined) return <>Checking what is published…</>;
  if (publishedVersionId === null) return <span className="badge">Not published</span>;
  const label = publishedEntry?.label ?? shortId(publishedVersionId);
  return latestPublished ? (
    <span className="badge badge-ok">Published: {label} (latest)</span>
  ) : (
    <span className="badge badge-warn">Published: {label} (not the latest)</span>
  );
}

interface EditorHeaderProps {
  noun: string;
  listPath: string;
  listLabel: string;
  resource: Resource | null;
  latestEntry: VersionEntry | undefined;
  publishedEntry: VersionEntry | undefined;
  publishedVersionId: string | null | undefined;
  latestPublished: boolean;
  importName: string | undefined;
  language: Language;
  dirty: boolean;
  canWrite: boolean;
  saving: boolean;
  onSave: () => void;
  onPublishLatest: (entry: VersionEntry) => void;
}

/** Title, what is saved and live, and the Save and Publish buttons. */
export function EditorHeader(props: EditorHeaderProps) {
  const { noun, resource, latestEntry, importName, dirty, canWrite, saving, latestPublished } = props;
  return (
    <div>
      <p style={{ margin: '0 0 4px' }}>
        <BackLink listPath={props.listPath} listLabel={props.listLabel} />
      </p>
      <div className="page-head" style={{ marginBottom: 0 }}>
        <div>
          <h1 id="editor-title">{resource ? resource.name : `New ${noun}`}</h1>
          {resource ? (
            <div className="editor-status" data-testid="editor-status">
              <LanguageBadge language={props.language} />
              <span aria-hidden="true">·</span>
              <span>
                Latest: <strong>{latestEntry?.label ?? shortId(resource.versionId)}</strong>
              </span>
              <span aria-hidden="true">·</span>
              <span data-testid="published-version">
                <PublishedState publishedVersionId={props.publishedVersionId} publishedEntry={props.publishedEntry} latestPublished={latestPublished} />
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
          <button type="button" className="primary" onClick={props.onSave} disabled={!canWrite || saving || (Boolean(resource) && !dirty)} title="Ctrl+S / ⌘S">
            {saving ? 'Saving…' : resource ? 'Save new version' : `Create ${noun}`}
          </button>
          {resource && latestEntry && canWrite ? (
            <button
              type="button"
              onClick={() => props.onPublishLatest(latestEntry)}
              disabled={dirty || latestPublished}
              title={dirty ? 'Save your changes first' : latestPublished ? 'The latest version is already live' : undefined}
            >
              {latestPublished ? 'Latest is published' : 'Publish latest'}
            </button>
          ) : null}
        </div>
      </div>
    </div>
  );
}
