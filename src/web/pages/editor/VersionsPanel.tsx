import { useEffect, useId, useMemo, useState, type ReactNode } from 'react';
import { getVersion, type ResourceVersion, type ResourceKind } from '../../api.js';
import { ErrorAlert, Loading } from '../../components/Feedback.js';
import { LazyDiffView } from '../../components/LazyDiffView.js';
import type { Language } from '../../language.js';
import { formatDateSeconds, shortId } from '../../format.js';

export interface VersionEntry {
  version: ResourceVersion;
  label: string;
}

/**
 * Labels versions "Version 1..n" when the whole history is loaded; with a truncated history the
 * numbers would lie, so the short version id is used instead.
 */
export function labelVersions(versionsDesc: ResourceVersion[], complete: boolean): VersionEntry[] {
  const total = versionsDesc.length;
  return versionsDesc.map((version, position) => ({
    version,
    label: complete ? `Version ${total - position}` : `Version ${shortId(version.versionId)}`,
  }));
}

const UNSAVED = '__unsaved__';

/** One side of the comparison; `children` are choices listed before the versions. */
function VersionSelect({ id, label, entries, value, onChange, children }: { id: string; label: string; entries: VersionEntry[]; value: string; onChange: (value: string) => void; children?: ReactNode }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(event) => onChange(event.target.value)}>
        {children}
        {entries.map((entry) => (
          <option key={entry.version.versionId} value={entry.version.versionId}>
            {entry.label} · {formatDateSeconds(entry.version.createdAt)}
          </option>
        ))}
      </select>
    </div>
  );
}

interface VersionsPanelProps {
  kind: ResourceKind;
  /** The resource's language, for the comparison's highlighting. */
  language: Language;
  resourceId: string;
  entries: VersionEntry[] | null;
  error: unknown;
  complete: boolean;
  publishedVersionId: string | null | undefined;
  canWrite: boolean;
  /** The versions the address asks to compare (either may be missing or unknown). */
  compared: { left: string | null; right: string | null };
  onCompare: (left: string, right: string) => void;
  unsavedCode: string | null;
  onPublish: (entry: VersionEntry) => void;
  onLoadIntoEditor: (entry: VersionEntry) => void;
  onRetry: () => void;
}

export function VersionsPanel({ kind, language, resourceId, entries, error, complete, publishedVersionId, canWrite, compared, onCompare, unsavedCode, onPublish, onLoadIntoEditor, onRetry }: VersionsPanelProps) {
  const [codes, setCodes] = useState<Record<string, string>>({});
  const [diffError, setDiffError] = useState<unknown>(null);
  const ids = { left: useId(), right: useId() };

  // The chosen versions when they exist, else the previous version against the latest.
  const versionIds = (entries ?? []).map((entry) => entry.version.versionId);
  const left = compared.left && versionIds.includes(compared.left) ? compared.left : (versionIds[1] ?? versionIds[0] ?? '');
  const right =
    compared.right && (versionIds.includes(compared.right) || (compared.right === UNSAVED && unsavedCode !== null)) ? compared.right : (versionIds[0] ?? '');

  const byId = useMemo(() => new Map((entries ?? []).map((entry) => [entry.version.versionId, entry])), [entries]);

  // Version lists normally carry the code; fetch a version on its own only if one does not.
  useEffect(() => {
    for (const versionId of [left, right]) {
      if (!versionId || versionId === UNSAVED || codes[versionId] !== undefined) continue;
      const entry = byId.get(versionId);
      if (entry && typeof entry.version.code === 'string') {
        setCodes((current) => ({ ...current, [versionId]: entry.version.code }));
        continue;
      }
      getVersion(kind, resourceId, versionId).then(
        (version) => setCodes((current) => ({ ...current, [versionId]: version.code ?? '' })),
        (caught: unknown) => setDiffError(caught),
      );
    }
  }, [left, right, byId, codes, kind, resourceId]);

  if (error) return <ErrorAlert error={error} title="Could not load the version history." onRetry={onRetry} />;
  if (!entries) return <Loading label="Loading versions…" />;
  if (entries.length === 0) return <p className="muted">No versions yet. Save to create the first one.</p>;

  const latestId = entries[0]?.version.versionId;
  const publishedIndex = entries.findIndex((entry) => entry.version.versionId === publishedVersionId);
  const labelOf = (versionId: string) => (versionId === UNSAVED ? 'Unsaved edits' : (byId.get(versionId)?.label ?? shortId(versionId)));
  const leftCode = left === UNSAVED ? unsavedCode : codes[left];
  const rightCode = right === UNSAVED ? unsavedCode : codes[right];

  return (
    <div className="stack">
      {!complete ? <p className="small muted">Showing the {entries.length} newest versions.</p> : null}
      <ol className="version-list" aria-label="Versions, newest first" data-testid="version-list">
        {entries.map((entry, position) => {
          const { version } = entry;
          const published = version.versionId === publishedVersionId || (publishedVersionId === undefined && version.isPublished === true);
          // Versions older than the live one are rollbacks; newer ones are ordinary publishes.
          const isRollback = publishedIndex >= 0 && position > publishedIndex;
          return (
            <li key={version.versionId} data-version-id={version.versionId} data-published={published ? 'true' : 'false'}>
              <span className="version-label">{entry.label}</span>
              <span className="small muted">
                <time dateTime={version.createdAt}>{formatDateSeconds(version.createdAt)}</time> · <code title={version.versionId}>{shortId(version.versionId)}</code>
              </span>
              {version.versionId === latestId ? <span className="badge">latest</span> : null}
              {published ? (
                <span className="badge badge-ok" data-testid="published-marker">
                  published
                </span>
              ) : null}
              <span className="version-actions">
                {version.versionId !== latestId && canWrite ? (
                  <button type="button" className="small" onClick={() => onLoadIntoEditor(entry)} aria-label={`Load ${entry.label} into the editor`}>
                    Load into editor
                  </button>
                ) : null}
                {!published && canWrite ? (
                  <button type="button" className="small" onClick={() => onPublish(entry)} aria-label={`${isRollback ? 'Roll back to' : 'Publish'} ${entry.label}`}>
                    {isRollback ? 'Roll back to this version' : 'Publish this version'}
                  </button>
                ) : null}
              </span>
            </li>
          );
        })}
      </ol>

      <h3>Compare versions</h3>
      {entries.length < 2 && unsavedCode === null ? (
        <p className="muted">There is only one version so far. Save a change to compare versions.</p>
      ) : (
        <>
          <div className="inline-fields">
            <VersionSelect id={ids.left} label="Older (left)" entries={entries} value={left} onChange={(next) => onCompare(next, right)} />
            <VersionSelect id={ids.right} label="Newer (right)" entries={entries} value={right} onChange={(next) => onCompare(left, next)}>
              {unsavedCode !== null ? <option value={UNSAVED}>Unsaved edits in the editor</option> : null}
            </VersionSelect>
          </div>
          <ErrorAlert error={diffError} title="Could not load a version." />
          {typeof leftCode === 'string' && typeof rightCode === 'string' ? (
            <LazyDiffView original={leftCode} modified={rightCode} originalLabel={labelOf(left)} modifiedLabel={labelOf(right)} language={language} />
          ) : (
            <Loading label="Loading the versions to compare…" />
          )}
        </>
      )}
    </div>
  );
}
