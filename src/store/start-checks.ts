import { createHmac, timingSafeEqual } from 'node:crypto';
import { ConfigError, type Config } from '../config.js';
import type { Store } from './db.js';

// What a store must pass before an instance serves from it. Each failure is a ConfigError, so
// `tiller` stops at start with one line naming the setting to fix, instead of serving wrong answers.

type StartConfig = Pick<Config, 'pepper' | 'migrateOnStart' | 'databaseUrl'>;

/**
 * Refuses a database at a newer schema than this release; applies pending migrations (or, with
 * TILLER_MIGRATE_ON_START=false, refuses them: a separate job migrates); then checks that this
 * instance's pepper is the one the database's other instances use.
 */
export async function prepareStore(store: Store, config: StartConfig, options: { migrate?: boolean; checkPepper?: boolean } = {}): Promise<void> {
  const status = await store.schemaStatus();
  const databaseSetting = config.databaseUrl ? 'DATABASE_URL' : 'TILLER_DATA_DIR';
  if (status.unknown.length > 0) {
    throw new ConfigError(
      databaseSetting,
      `the database is at a newer schema than this Tiller (it has migration ${status.unknown.join(', ')}, which this release does not know): run the release that migrated it, or a newer one`,
    );
  }
  if (status.pending.length > 0) {
    if (!(options.migrate ?? config.migrateOnStart)) {
      throw new ConfigError(
        'TILLER_MIGRATE_ON_START',
        `is false and the database needs migration ${status.pending.join(', ')}: run "tiller migrate" (the migration job) first, or let this instance migrate`,
      );
    }
    await store.migrate();
  }
  if (options.checkPepper !== false) await checkPepper(store, config.pepper);
}

/** Keyed by the pepper, so the stored value tells whether two instances hold the same one and nothing else about it. */
function pepperFingerprint(pepper: Buffer): string {
  return createHmac('sha256', pepper).update('tiller pepper fingerprint v1').digest('hex');
}

/**
 * The first instance on a database records its pepper's fingerprint; every later one must match,
 * or the tokens one issued would not verify on the other (a load balancer would make that look
 * like random 401s).
 */
async function checkPepper(store: Store, pepper: Buffer): Promise<void> {
  const mine = pepperFingerprint(pepper);
  await store.db
    .insertInto('instance_settings')
    .values({ name: 'pepper_fingerprint', value: mine, set_at: new Date().toISOString() })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const row = await store.db.selectFrom('instance_settings').select(['value', 'set_at']).where('name', '=', 'pepper_fingerprint').executeTakeFirstOrThrow();
  const recorded = Buffer.from(row.value, 'hex');
  const expected = Buffer.from(mine, 'hex');
  if (recorded.length !== expected.length || !timingSafeEqual(recorded, expected)) {
    throw new ConfigError(
      'TILLER_PEPPER',
      `differs from the pepper this database's tokens were issued under (first used ${row.set_at}): give every instance on one database the same TILLER_PEPPER (a generated one is the data directory's "pepper" file)`,
    );
  }
}
