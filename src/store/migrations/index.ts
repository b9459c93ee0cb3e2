import type { Migration, MigrationProvider } from 'kysely';
import * as foundation from './001_foundation.js';
import * as transformations from './002_transformations.js';
import * as catalogListOrder from './003_catalog_list_order.js';
import * as versionQuarantines from './004_version_quarantines.js';
import * as credentials from './005_credentials.js';
import * as workspaceConfigs from './006_workspace_configs.js';
import * as liveEvents from './007_live_events.js';
import * as instanceSettings from './008_instance_settings.js';
import * as auditNames from './009_audit_names.js';
import * as transformationStats from './010_transformation_stats.js';
import * as canaries from './011_canaries.js';
import * as shadows from './012_shadows.js';

// Listed explicitly (not read from the folder) so the same code runs from src/ and from dist/.
// Append new migrations; never edit or reorder one that has shipped.
const migrations: Record<string, Migration> = {
  '001_foundation': foundation,
  '002_transformations': transformations,
  '003_catalog_list_order': catalogListOrder,
  '004_version_quarantines': versionQuarantines,
  '005_credentials': credentials,
  '006_workspace_configs': workspaceConfigs,
  '007_live_events': liveEvents,
  '008_instance_settings': instanceSettings,
  '009_audit_names': auditNames,
  '010_transformation_stats': transformationStats,
  '011_canaries': canaries,
  '012_shadows': shadows,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
