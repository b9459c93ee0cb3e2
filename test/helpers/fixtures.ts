import type { Kysely } from 'kysely';
import { newId, nowIso } from '../../src/domain/ids.js';
import type { Database } from '../../src/store/schema.js';

// Transformations and libraries written straight into the store, so runtime and config-backend
// tests do not depend on the Transformations API. Rows match what that API writes.

export interface StoreHolder {
  server: { services: { store: { db: Kysely<Database> } } };
}

const dbOf = (target: StoreHolder | Kysely<Database>): Kysely<Database> => ('server' in target ? target.server.services.store.db : target);

/** Import specifiers of an ES module, in source order (enough for fixtures; the runtime analyzes for real). */
export function importsOf(code: string): string[] {
  const found: string[] = [];
  for (const match of code.matchAll(/\bimport\s*(?:[\w*{}\s,]+from\s*)?["']([^"']+)["']/g)) {
    if (!found.includes(match[1]!)) found.push(match[1]!);
  }
  return found;
}

export interface TransformationFixture {
  workspaceId: string;
  code: string;
  name?: string;
  description?: string;
  /** Publish the first version (default true). */
  publish?: boolean;
  imports?: string[];
  /** The transformation's language (default 'javascript'), e.g. 'pythonfaas'. */
  language?: 'javascript' | 'pythonfaas';
}

export interface CreatedVersion {
  id: string;
  versionId: string;
}

export async function createTransformation(target: StoreHolder | Kysely<Database>, fixture: TransformationFixture): Promise<CreatedVersion> {
  const db = dbOf(target);
  const id = newId();
  const versionId = newId();
  const at = nowIso();
  const name = fixture.name ?? `transformation ${id.slice(-6)}`;
  await db.transaction().execute(async (tx) => {
    await tx
      .insertInto('transformations')
      .values({
        id,
        workspace_id: fixture.workspaceId,
        name,
        description: fixture.description ?? '',
        language: fixture.language ?? 'javascript',
        destination_ids: '[]',
        created_at: at,
        updated_at: at,
        latest_version_id: versionId,
        published_version_id: fixture.publish === false ? null : versionId,
        version_count: 1,
        deleted_at: null,
      })
      .execute();
    await tx
      .insertInto('transformation_versions')
      .values({
        id: versionId,
        transformation_id: id,
        workspace_id: fixture.workspaceId,
        seq: 1,
        name,
        description: fixture.description ?? '',
        code: fixture.code,
        code_version: '1',
        language: fixture.language ?? 'javascript',
        imports: JSON.stringify(fixture.imports ?? importsOf(fixture.code)),
        created_at: at,
        created_by: null,
      })
      .execute();
  });
  return { id, versionId };
}

/** Appends a version to an existing transformation (optionally publishing it). */
export async function addTransformationVersion(target: StoreHolder | Kysely<Database>, transformationId: string, code: string, options: { publish?: boolean } = {}): Promise<string> {
  const db = dbOf(target);
  const parent = await db.selectFrom('transformations').selectAll().where('id', '=', transformationId).executeTakeFirstOrThrow();
  const versionId = newId();
  const at = nowIso();
  const seq = parent.version_count + 1;
  await db.transaction().execute(async (tx) => {
    await tx
      .insertInto('transformation_versions')
      .values({
        id: versionId,
        transformation_id: transformationId,
        workspace_id: parent.workspace_id,
        seq,
        name: parent.name,
        description: parent.description,
        code,
        code_version: '1',
        language: parent.language,
        imports: JSON.stringify(importsOf(code)),
        created_at: at,
        created_by: null,
      })
      .execute();
    await tx
      .updateTable('transformations')
      .set({ latest_version_id: versionId, version_count: seq, updated_at: at, ...(options.publish ? { published_version_id: versionId } : {}) })
      .where('id', '=', transformationId)
      .execute();
  });
  return versionId;
}

export async function deleteTransformation(target: StoreHolder | Kysely<Database>, transformationId: string): Promise<void> {
  await dbOf(target).updateTable('transformations').set({ deleted_at: nowIso() }).where('id', '=', transformationId).execute();
}

export interface LibraryFixture {
  workspaceId: string;
  name: string;
  /** Defaults to the lodash-style camelCase of name. */
  importName?: string;
  code: string;
  publish?: boolean;
}

/** lodash-style camelCase for simple names: "User Defined Library" -> "userDefinedLibrary". */
export function camelCaseName(name: string): string {
  const words = name
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+|(?<=[0-9])(?=[A-Za-z])|(?<=[A-Za-z])(?=[0-9])/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
  return words.map((w, i) => (i === 0 ? w : w[0]!.toUpperCase() + w.slice(1))).join('');
}

export async function createLibrary(target: StoreHolder | Kysely<Database>, fixture: LibraryFixture): Promise<CreatedVersion & { importName: string }> {
  const db = dbOf(target);
  const id = newId();
  const versionId = newId();
  const at = nowIso();
  const importName = fixture.importName ?? camelCaseName(fixture.name);
  await db.transaction().execute(async (tx) => {
    await tx
      .insertInto('libraries')
      .values({
        id,
        workspace_id: fixture.workspaceId,
        name: fixture.name,
        import_name: importName,
        description: '',
        language: 'javascript',
        created_at: at,
        updated_at: at,
        latest_version_id: versionId,
        published_version_id: fixture.publish === false ? null : versionId,
        version_count: 1,
        deleted_at: null,
      })
      .execute();
    await tx
      .insertInto('library_versions')
      .values({
        id: versionId,
        library_id: id,
        workspace_id: fixture.workspaceId,
        seq: 1,
        name: fixture.name,
        import_name: importName,
        description: '',
        code: fixture.code,
        language: 'javascript',
        created_at: at,
        created_by: null,
      })
      .execute();
  });
  return { id, versionId, importName };
}

/** Appends a library version (optionally publishing it). */
export async function addLibraryVersion(target: StoreHolder | Kysely<Database>, libraryId: string, code: string, options: { publish?: boolean } = {}): Promise<string> {
  const db = dbOf(target);
  const parent = await db.selectFrom('libraries').selectAll().where('id', '=', libraryId).executeTakeFirstOrThrow();
  const versionId = newId();
  const at = nowIso();
  const seq = parent.version_count + 1;
  await db.transaction().execute(async (tx) => {
    await tx
      .insertInto('library_versions')
      .values({
        id: versionId,
        library_id: libraryId,
        workspace_id: parent.workspace_id,
        seq,
        name: parent.name,
        import_name: parent.import_name,
        description: '',
        code,
        language: parent.language,
        created_at: at,
        created_by: null,
      })
      .execute();
    await tx
      .updateTable('libraries')
      .set({ latest_version_id: versionId, version_count: seq, updated_at: at, ...(options.publish ? { published_version_id: versionId } : {}) })
      .where('id', '=', libraryId)
      .execute();
  });
  return versionId;
}

/** A realistic track event of roughly 600 bytes, as rudder-server forwards them. */
export function trackEvent(n: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'track',
    event: n % 2 === 0 ? 'Product Viewed' : 'Order Completed',
    messageId: `msg-${n}`,
    anonymousId: `anon-${n % 97}`,
    userId: `user-${n % 13}`,
    channel: 'web',
    originalTimestamp: '2024-05-01T12:00:00.000Z',
    sentAt: '2024-05-01T12:00:01.000Z',
    properties: { product_id: `p-${n}`, price: 19.99 + (n % 10), currency: 'USD', quantity: 1 + (n % 3), category: 'books', ...extra },
    context: {
      library: { name: 'rudder-analytics.js', version: '3.0.0' },
      page: { path: '/products/42', url: 'https://shop.example.com/products/42', title: 'A product' },
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
      locale: 'en-US',
      ip: '203.0.113.9',
    },
  };
}

export interface WireEventOptions {
  versionId: string;
  sourceId?: string;
  destinationId?: string;
  workspaceId?: string;
  libraries?: string[];
  message?: Record<string, unknown>;
}

/** One /customTransform entry as rudder-server sends it. */
export function wireEvent(n: number, options: WireEventOptions): Record<string, unknown> {
  const message = options.message ?? trackEvent(n);
  return {
    message,
    metadata: {
      sourceId: options.sourceId ?? 'src-1',
      destinationId: options.destinationId ?? 'dst-1',
      workspaceId: options.workspaceId ?? 'ws-1',
      messageId: (message.messageId as string | undefined) ?? `msg-${n}`,
      jobId: n,
      sourceType: 'Javascript',
      destinationType: 'WEBHOOK',
    },
    destination: { ID: options.destinationId ?? 'dst-1', Transformations: [{ VersionID: options.versionId, ID: 'tr-1' }] },
    ...(options.libraries ? { libraries: options.libraries.map((VersionID) => ({ VersionID })) } : {}),
  };
}
