import type { Migration, MigrationProvider } from 'kysely';
import * as foundation from './001_foundation.js';
import * as transformations from './002_transformations.js';

// Listed explicitly (not read from the folder) so the same code runs from src/ and from dist/.
// Append new migrations; never edit or reorder one that has shipped.
const migrations: Record<string, Migration> = {
  '001_foundation': foundation,
  '002_transformations': transformations,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
