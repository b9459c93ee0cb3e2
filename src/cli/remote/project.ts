// A project directory: tiller.yaml (the manifest) and one .js file per transformation and library.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { initSync, parse as lexModule } from 'es-module-lexer';
import { Document, isMap, isSeq, parseDocument } from 'yaml';
import { importNameOf } from '../../domain/import-name.js';
import { inputError } from './errors.js';

initSync();

export const MANIFEST = 'tiller.yaml';

export interface TransformationEntry {
  id?: string;
  name: string;
  file: string;
  description?: string;
  testEvents?: string;
  expectedOutput?: string;
}

export interface LibraryEntry {
  id?: string;
  name: string;
  importName?: string;
  file: string;
  description?: string;
}

export interface Manifest {
  transformations: TransformationEntry[];
  libraries: LibraryEntry[];
}

export interface Project {
  dir: string;
  manifestPath: string;
  manifest: Manifest;
  doc: Document;
}

function stringField(entry: Record<string, unknown>, key: string, where: string, required: boolean): string | undefined {
  const value = entry[key];
  if (value === undefined || value === null) {
    if (required) throw inputError(`${where}.${key} is required`);
    return undefined;
  }
  if (typeof value !== 'string' || value.trim() === '') throw inputError(`${where}.${key} must be a non-empty string`);
  return value;
}

export function loadProject(dirArg: string | undefined): Project {
  const dir = resolve(dirArg ?? '.');
  const manifestPath = join(dir, MANIFEST);
  if (!existsSync(manifestPath)) throw inputError(`no ${MANIFEST} in ${dir}; run "tiller pull ${dirArg ?? '.'}" to create one`);
  const doc = parseDocument(readFileSync(manifestPath, 'utf8'));
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const line = first.linePos?.[0]?.line;
    throw inputError(`${manifestPath}${line ? `:${line}` : ''}: ${first.message.split('\n')[0]}`);
  }
  const raw = (doc.toJS() ?? {}) as Record<string, unknown>;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw inputError(`${manifestPath}: must be a mapping with transformations and libraries`);
  const list = (key: string): Record<string, unknown>[] => {
    const value = raw[key];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value) || value.some((e) => !e || typeof e !== 'object' || Array.isArray(e))) throw inputError(`${manifestPath}: ${key} must be a list of mappings`);
    return value as Record<string, unknown>[];
  };
  const transformations = list('transformations').map((entry, i): TransformationEntry => {
    const where = `${MANIFEST} transformations[${i}]`;
    const t: TransformationEntry = { name: stringField(entry, 'name', where, true)!, file: stringField(entry, 'file', where, true)! };
    for (const key of ['id', 'description', 'testEvents', 'expectedOutput'] as const) {
      const value = key === 'description' ? (typeof entry.description === 'string' ? entry.description : undefined) : stringField(entry, key, where, false);
      if (value !== undefined) t[key] = value;
    }
    return t;
  });
  const libraries = list('libraries').map((entry, i): LibraryEntry => {
    const where = `${MANIFEST} libraries[${i}]`;
    const l: LibraryEntry = { name: stringField(entry, 'name', where, true)!, file: stringField(entry, 'file', where, true)! };
    for (const key of ['id', 'importName', 'description'] as const) {
      const value = key === 'description' ? (typeof entry.description === 'string' ? entry.description : undefined) : stringField(entry, key, where, false);
      if (value !== undefined) l[key] = value;
    }
    return l;
  });
  return { dir, manifestPath, manifest: { transformations, libraries }, doc };
}

/** Records ids the server gave, keeping the rest of the file (comments included) as it was. */
export function saveIds(project: Project, ids: { transformations: (string | undefined)[]; libraries: (string | undefined)[] }): boolean {
  let changed = false;
  for (const kind of ['transformations', 'libraries'] as const) {
    const seq = project.doc.get(kind);
    if (!isSeq(seq)) continue;
    ids[kind].forEach((id, i) => {
      const item = seq.items[i];
      if (id && isMap(item) && item.get('id') !== id) {
        const had = item.has('id');
        item.set('id', id);
        // A new id goes first, where people look for it.
        if (!had) item.items.unshift(item.items.pop()!);
        changed = true;
      }
    });
  }
  if (changed) writeFileSync(project.manifestPath, project.doc.toString());
  return changed;
}

export function writeManifest(dir: string, manifest: Manifest): string {
  const doc = new Document(manifest);
  doc.commentBefore = ' Tiller project: transformations and libraries kept in git. See README, "Transformations in git".';
  mkdirSync(dir, { recursive: true });
  const path = join(dir, MANIFEST);
  writeFileSync(path, doc.toString());
  return path;
}

export function projectFile(project: Project, path: string, what: string): string {
  const full = resolve(project.dir, path);
  if (!existsSync(full)) throw inputError(`${relative(process.cwd(), full) || full}: file not found (${what} in ${MANIFEST})`);
  return readFileSync(full, 'utf8');
}

export function writeProjectFile(dir: string, path: string, text: string): void {
  const full = resolve(dir, path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, text);
}

/** Shown path of a project file, relative to the working directory. */
export function shown(project: Project, path: string): string {
  return relative(process.cwd(), resolve(project.dir, path)) || path;
}

function lineOf(source: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < source.length; i++) if (source.charCodeAt(i) === 10) line++;
  return line;
}

/** Static imports of a module, with their lines; a lexer failure is a syntax error at its offset. */
export function importsOf(source: string, file: string): { name: string; line: number }[] {
  let imports: ReturnType<typeof lexModule>[0];
  try {
    [imports] = lexModule(source);
  } catch (err) {
    const idx = (err as { idx?: number }).idx;
    throw inputError(`${file}${idx !== undefined ? `:${lineOf(source, idx)}` : ''}: syntax error (${(err as Error).message.split('\n')[0]})`);
  }
  return imports.filter((entry) => entry.d === -1 && entry.n !== undefined).map((entry) => ({ name: entry.n!, line: lineOf(source, entry.ss) }));
}

export function readEvents(project: Project, path: string, what: string): unknown[] {
  const text = projectFile(project, path, what);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw inputError(`${shown(project, path)}: not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(parsed)) throw inputError(`${shown(project, path)}: must be a JSON array of events`);
  return parsed;
}

export const libraryImportName = (entry: LibraryEntry): string => entry.importName ?? importNameOf(entry.name);

export function slug(name: string): string {
  return (
    name
      .normalize('NFKD')
      .replace(/[^\w\s-]/g, '')
      .trim()
      .toLowerCase()
      .replace(/[\s_]+/g, '-')
      .replace(/-+/g, '-')
      .slice(0, 80) || 'transformation'
  );
}
