import { shortId } from '../format.js';

/** Which version is live, in words: the answer to "what runs in production right now?". */
export function PublishBadge({ versionId, publishedVersionId }: { versionId: string; publishedVersionId: string | null | undefined }) {
  if (publishedVersionId === undefined) return <span className="muted">—</span>;
  if (!publishedVersionId) return <span className="badge">Not published</span>;
  if (publishedVersionId === versionId)
    return (
      <span className="badge badge-ok" data-published-version={publishedVersionId}>
        Latest version published
      </span>
    );
  return (
    <span className="badge badge-warn" data-published-version={publishedVersionId} title={`Published version ${shortId(publishedVersionId)}; open it to see which one`}>
      Older version published
    </span>
  );
}
