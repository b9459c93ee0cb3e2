// The store queries authentication needs, and nothing else: find a secret's row by its keyed
// digest, and write last uses in batches.
import type { CompiledQuery, Kysely } from 'kysely';
import type { AccessTokensTable, Database } from '../../store/schema.js';
import { digestsEqual } from '../secrets.js';

/** An access token's row with its member's e-mail. */
export type AccessTokenRow = AccessTokensTable & { email: string };

/**
 * The two lookups, built and compiled once per database: building a Kysely query costs about as
 * much as running this one, and authentication runs it on every cache miss. Only the digest changes.
 */
const lookups = new WeakMap<Kysely<Database>, { workspace: CompiledQuery<{ id: string; token_digest: string }>; access: CompiledQuery<AccessTokenRow> }>();

function lookupsOf(db: Kysely<Database>) {
  let compiled = lookups.get(db);
  if (!compiled) {
    compiled = {
      workspace: db.selectFrom('workspaces').select(['id', 'token_digest']).where('token_digest', '=', '').compile(),
      access: db
        .selectFrom('access_tokens')
        .innerJoin('members', 'members.id', 'access_tokens.member_id')
        .selectAll('access_tokens')
        .select('members.email')
        .where('access_tokens.digest', '=', '')
        .compile(),
    };
    lookups.set(db, compiled);
  }
  return compiled;
}

async function firstWithDigest<R>(db: Kysely<Database>, query: CompiledQuery<R>, digest: string): Promise<R | undefined> {
  return (await db.executeQuery<R>({ ...query, parameters: [digest] })).rows[0];
}

/** The workspace whose token has this digest; the index lookup is confirmed in constant time. */
export async function findWorkspaceByDigest(db: Kysely<Database>, digest: string): Promise<{ id: string } | undefined> {
  const row = await firstWithDigest(db, lookupsOf(db).workspace, digest);
  return row && digestsEqual(row.token_digest, digest) ? { id: row.id } : undefined;
}

/** The access token with this digest, whatever its state (the verifier says why it fails). */
export async function findAccessTokenByDigest(db: Kysely<Database>, digest: string): Promise<AccessTokenRow | undefined> {
  const row = await firstWithDigest(db, lookupsOf(db).access, digest);
  return row && digestsEqual(row.digest, digest) ? row : undefined;
}

export interface TokenUse {
  at: string;
  ip: string;
}

/**
 * Writes last uses in one transaction. A use older than `intervalMs` before one already stored is
 * skipped: another instance may have written one meanwhile, and the column changes at most that often.
 */
export async function writeLastUses(db: Kysely<Database>, uses: [id: string, use: TokenUse][], intervalMs: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    for (const [id, use] of uses) {
      const threshold = new Date(Date.parse(use.at) - intervalMs).toISOString();
      await trx
        .updateTable('access_tokens')
        .set({ last_used_at: use.at, last_used_ip: use.ip })
        .where('id', '=', id)
        .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<=', threshold)]))
        .execute();
    }
  });
}
