// Quarantined transformation versions, as the API shows them. The runtime pool decides and
// enforces quarantines (src/runtime/quarantine.ts); this module records each one with its audit
// event in one transaction and answers "until when is this quarantined?" for the views.

import type { Kysely } from 'kysely';
import type { QuarantineNotice } from '../runtime/index.js';
import type { Database } from '../store/schema.js';
import { recordAudit, systemActor } from './audit.js';
import { nowIso } from './ids.js';

/** Stores a quarantine the pool began. Versions Tiller does not know (never saved) are ignored. */
export async function recordQuarantine(db: Kysely<Database>, notice: QuarantineNotice): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const version = await trx
      .selectFrom('transformation_versions')
      .select(['transformation_id', 'workspace_id'])
      .where('id', '=', notice.versionId)
      .where('workspace_id', '=', notice.workspaceId)
      .executeTakeFirst();
    if (!version) return false;
    const until = notice.until.toISOString();
    const row = { transformation_id: version.transformation_id, workspace_id: version.workspace_id, until, count: notice.count, reason: notice.reason.slice(0, 1000), updated_at: nowIso() };
    await trx
      .insertInto('version_quarantines')
      .values({ version_id: notice.versionId, ...row })
      .onConflict((oc) => oc.column('version_id').doUpdateSet(row))
      .execute();
    await recordAudit(trx, version.workspace_id, systemActor, {
      action: 'transformation.quarantine',
      target: version.transformation_id,
      outcome: 'failure',
      reason: `version ${notice.versionId} quarantined until ${until} (quarantine ${notice.count} in a row): ${notice.reason}`.slice(0, 1000),
    });
    return true;
  });
}

export interface ActiveQuarantines {
  /** Per transformation with a version quarantined now: the latest end. */
  byTransformation: Map<string, string>;
  byVersion: Map<string, string>;
}

/** Quarantines in force now, of one transformation or of the whole workspace. */
export async function activeQuarantines(db: Kysely<Database>, workspaceId: string, transformationId?: string): Promise<ActiveQuarantines> {
  let query = db.selectFrom('version_quarantines').select(['transformation_id', 'version_id', 'until']).where('workspace_id', '=', workspaceId).where('until', '>', nowIso());
  if (transformationId !== undefined) query = query.where('transformation_id', '=', transformationId);
  const byTransformation = new Map<string, string>();
  const byVersion = new Map<string, string>();
  for (const row of await query.execute()) {
    const current = byTransformation.get(row.transformation_id);
    if (current === undefined || row.until > current) byTransformation.set(row.transformation_id, row.until);
    byVersion.set(row.version_id, row.until);
  }
  return { byTransformation, byVersion };
}
