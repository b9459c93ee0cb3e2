// What the project commands do against the server: pull, push, test, publish, status.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError, type Client, type RemoteLibrary, type RemoteTransformation } from './client.js';
import { CliError, EXIT, inputError } from './errors.js';
import { jsonDiff, sameJson } from './diff.js';
import {
  MANIFEST,
  type LibraryEntry,
  type Manifest,
  type Project,
  type TransformationEntry,
  importsOf,
  libraryImportName,
  loadProject,
  projectFile,
  readEvents,
  saveIds,
  shown,
  slug,
  writeManifest,
  writeProjectFile,
} from './project.js';

/** Says what a long command is doing now (a spinner at a terminal; nothing in CI or with --json). */
export type Progress = (step: string) => void;
const quiet: Progress = () => {};

export const listTransformations = async (client: Client) => (await client.get<{ transformations: RemoteTransformation[] }>('/transformations')).transformations;
export const listLibraries = async (client: Client) => (await client.get<{ libraries: RemoteLibrary[] }>('/libraries')).libraries;

// ---- pull -------------------------------------------------------------------------------------

export interface PullResult {
  dir: string;
  manifest: string;
  transformations: { id: string; name: string; file: string }[];
  libraries: { id: string; name: string; file: string }[];
}

export async function pull(client: Client, dirArg: string | undefined, progress: Progress = quiet): Promise<PullResult> {
  progress('Reading transformations and libraries');
  const [transformations, libraries] = await Promise.all([listTransformations(client), listLibraries(client)]);
  const dir = dirArg ?? '.';
  // Keep what people wrote in an existing manifest (file names, test files) for known ids.
  let previous: Manifest = { transformations: [], libraries: [] };
  if (existsSync(join(dir, MANIFEST))) previous = loadProject(dir).manifest;
  const used = new Set<string>();
  const unique = (file: string) => {
    let candidate = file;
    for (let n = 2; used.has(candidate); n++) candidate = file.replace(/\.js$/, `-${n}.js`);
    used.add(candidate);
    return candidate;
  };
  const manifest: Manifest = { transformations: [], libraries: [] };
  for (const l of libraries) {
    const old = previous.libraries.find((e) => e.id === l.id);
    const entry: LibraryEntry = { id: l.id, name: l.name, importName: l.importName, file: unique(old?.file ?? `libraries/${l.importName}.js`) };
    if (l.description) entry.description = l.description;
    manifest.libraries.push(entry);
    writeProjectFile(dir, entry.file, l.code);
  }
  for (const t of transformations) {
    const old = previous.transformations.find((e) => e.id === t.id);
    const entry: TransformationEntry = { id: t.id, name: t.name, file: unique(old?.file ?? `transformations/${slug(t.name)}.js`) };
    if (t.description) entry.description = t.description;
    if (old?.testEvents) entry.testEvents = old.testEvents;
    if (old?.expectedOutput) entry.expectedOutput = old.expectedOutput;
    manifest.transformations.push(entry);
    writeProjectFile(dir, entry.file, t.code);
  }
  const path = writeManifest(dir, manifest);
  return {
    dir,
    manifest: path,
    transformations: manifest.transformations.map((e) => ({ id: e.id!, name: e.name, file: e.file })),
    libraries: manifest.libraries.map((e) => ({ id: e.id!, name: e.name, file: e.file })),
  };
}

// ---- push -------------------------------------------------------------------------------------

export type PushAction = 'created' | 'updated' | 'unchanged';

export interface PushedItem {
  kind: 'library' | 'transformation';
  name: string;
  id: string;
  versionId: string;
  publishedVersionId: string | null;
  action: PushAction;
}

export interface LocalProject {
  project: Project;
  libraryCode: string[];
  transformationCode: string[];
}

/** Reads every file and checks what can be checked without the server's help. */
export function readLocal(project: Project, knownLibraries: Iterable<string>): LocalProject {
  const { manifest } = project;
  const libraryCode = manifest.libraries.map((e, i) => projectFile(project, e.file, `libraries[${i}].file`));
  const transformationCode = manifest.transformations.map((e, i) => projectFile(project, e.file, `transformations[${i}].file`));
  libraryCode.forEach((code, i) => importsOf(code, shown(project, manifest.libraries[i]!.file)));
  const known = new Set([...knownLibraries, ...manifest.libraries.map(libraryImportName)]);
  transformationCode.forEach((code, i) => {
    const file = shown(project, manifest.transformations[i]!.file);
    for (const imported of importsOf(code, file)) {
      if (!known.has(imported.name)) throw inputError(`${file}:${imported.line}: imports "${imported.name}", which is not a library in ${MANIFEST} or on the server`);
    }
  });
  return { project, libraryCode, transformationCode };
}

/** A 400 about the code becomes an input error naming the file and line. */
function codeError(err: unknown, file: string): never {
  if (err instanceof ApiError && (err.status === 400 || err.status === 409)) {
    const { line, column } = err.details as { line?: number; column?: number };
    if (line !== undefined) throw inputError(`${file}:${line}:${column ?? 1}: ${err.message}`);
    throw inputError(`${file}: ${err.message}`);
  }
  throw err;
}

/** Every library of the manifest as unsaved code, for the inline test call. */
const inlineLibraries = (local: LocalProject) =>
  local.project.manifest.libraries.map((entry, i) => ({ name: entry.name, code: local.libraryCode[i]!, ...(entry.importName ? { importName: entry.importName } : {}) }));

/**
 * Runs `POST /transformations/test` with the project's libraries as unsaved code. A 400 about a
 * library's code names that library's file; one about the transformation's code, `file`.
 */
async function inlineTest<T>(client: Client, local: LocalProject, body: { code: string; name?: string; events: unknown[] }, file: string): Promise<T> {
  try {
    return await client.post<T>('/transformations/test', { ...body, libraries: inlineLibraries(local) });
  } catch (err) {
    if (err instanceof ApiError && err.status === 400) {
      const library = /^libraries\[(\d+)\]/.exec(String(err.details.field ?? ''));
      if (library) codeError(err, shown(local.project, local.project.manifest.libraries[Number(library[1])]!.file));
      if (err.details.field === 'code' || err.details.line !== undefined) codeError(err, file);
    }
    throw err;
  }
}

// Carries the libraries of a project without transformations through the check.
const STUB_TRANSFORMATION = 'export function transformEvent(event) { return event; }';

/**
 * Asks the server to compile every library and transformation of the project, linked as they would
 * be, before anything is saved: one broken file then saves nothing. A test call with no events
 * compiles and links without running, and checks every library it carries.
 */
async function checkProject(client: Client, local: LocalProject, progress: Progress): Promise<void> {
  const { manifest } = local.project;
  progress(`Compiling ${manifest.libraries.length + manifest.transformations.length} file(s) on the server`);
  if (manifest.transformations.length === 0 && manifest.libraries.length > 0) await inlineTest(client, local, { code: STUB_TRANSFORMATION, events: [] }, MANIFEST);
  for (const [i, entry] of manifest.transformations.entries()) {
    await inlineTest(client, local, { code: local.transformationCode[i]!, name: entry.name, events: [] }, shown(local.project, entry.file));
  }
}

function matchRemote<T extends { id: string; name: string }>(entry: { id?: string; name: string }, remote: T[], where: string): T | undefined {
  if (entry.id) {
    const found = remote.find((r) => r.id === entry.id);
    if (!found) throw inputError(`${MANIFEST} ${where}.id "${entry.id}" is not on the server (deleted, or another workspace); remove the id to create it again`);
    return found;
  }
  return remote.find((r) => r.name === entry.name);
}

export interface PushResult {
  libraries: PushedItem[];
  transformations: PushedItem[];
}

export async function push(client: Client, project: Project, progress: Progress = quiet): Promise<PushResult> {
  const { manifest } = project;
  const [remoteTransformations, remoteLibraries] = await Promise.all([listTransformations(client), listLibraries(client)]);
  const local = readLocal(project, remoteLibraries.map((l) => l.importName));
  const libraryMatches = manifest.libraries.map((e, i) => matchRemote(e, remoteLibraries, `libraries[${i}]`));
  const transformationMatches = manifest.transformations.map((e, i) => matchRemote(e, remoteTransformations, `transformations[${i}]`));
  await checkProject(client, local, progress);

  // Libraries first: the transformations that import them are checked against them.
  const libraries: PushedItem[] = [];
  for (const [i, entry] of manifest.libraries.entries()) {
    const code = local.libraryCode[i]!;
    const remote = libraryMatches[i];
    const file = shown(project, entry.file);
    if (remote && entry.importName && remote.importName !== entry.importName) {
      throw inputError(`${MANIFEST} libraries[${i}]: importName "${entry.importName}" does not match the server's "${remote.importName}" (it follows from the name)`);
    }
    let saved: RemoteLibrary;
    let action: PushAction;
    if (remote && remote.code === code && (entry.description === undefined || entry.description === remote.description)) {
      saved = remote;
      action = 'unchanged';
    } else {
      const body = { code, ...(entry.description !== undefined ? { description: entry.description } : {}) };
      progress(`Saving library "${entry.name}"`);
      try {
        saved = remote ? await client.post<RemoteLibrary>(`/libraries/${encodeURIComponent(remote.id)}`, body) : await client.post<RemoteLibrary>('/libraries', { name: entry.name, ...body });
      } catch (err) {
        codeError(err, file);
      }
      action = remote ? 'updated' : 'created';
    }
    libraries.push({ kind: 'library', name: entry.name, id: saved.id, versionId: saved.versionId, publishedVersionId: saved.publishedVersionId, action });
  }

  const transformations: PushedItem[] = [];
  for (const [i, entry] of manifest.transformations.entries()) {
    const code = local.transformationCode[i]!;
    const remote = transformationMatches[i];
    const file = shown(project, entry.file);
    let saved: RemoteTransformation;
    let action: PushAction;
    if (remote && remote.code === code && remote.name === entry.name && (entry.description === undefined || entry.description === remote.description)) {
      saved = remote;
      action = 'unchanged';
    } else {
      const body = { name: entry.name, code, ...(entry.description !== undefined ? { description: entry.description } : {}) };
      progress(`Saving transformation "${entry.name}"`);
      try {
        saved = remote ? await client.post<RemoteTransformation>(`/transformations/${encodeURIComponent(remote.id)}`, body) : await client.post<RemoteTransformation>('/transformations', body);
      } catch (err) {
        codeError(err, file);
      }
      action = remote ? 'updated' : 'created';
    }
    transformations.push({ kind: 'transformation', name: entry.name, id: saved.id, versionId: saved.versionId, publishedVersionId: saved.publishedVersionId, action });
  }
  saveIds(project, { libraries: libraries.map((l) => l.id), transformations: transformations.map((t) => t.id) });
  return { libraries, transformations };
}

// ---- test -------------------------------------------------------------------------------------

interface InlineAnswer {
  results: { index: number; statusCode: number; output?: unknown; error?: string }[];
  dropped: number[];
  logs: string[];
}

export interface TestOutcome {
  name: string;
  file: string;
  pass: boolean;
  errors: string[];
  actualOutput: unknown[];
  expectedOutput?: unknown[];
  diff?: string;
  logs: string[];
}

export interface TestReport {
  pass: boolean;
  tests: TestOutcome[];
}

export async function runTests(client: Client, project: Project, progress: Progress = quiet): Promise<TestReport> {
  const { manifest } = project;
  const remoteLibraries = await listLibraries(client);
  const local = readLocal(project, remoteLibraries.map((l) => l.importName));
  // Read every events file before running anything.
  const cases = manifest.transformations.flatMap((entry, i) => {
    if (!entry.testEvents) return [];
    const events = readEvents(project, entry.testEvents, `transformations[${i}].testEvents`);
    const expected = entry.expectedOutput ? readEvents(project, entry.expectedOutput, `transformations[${i}].expectedOutput`) : undefined;
    return [{ entry, code: local.transformationCode[i]!, events, expected }];
  });
  const tests: TestOutcome[] = [];
  for (const { entry, code, events, expected } of cases) {
    const file = shown(project, entry.file);
    let answer: InlineAnswer;
    progress(`Testing "${entry.name}" on ${events.length} event(s)`);
    try {
      // The local code of every library, pushed or not: the test shows what a push would serve.
      answer = await inlineTest<InlineAnswer>(client, local, { code, events, name: entry.name }, file);
    } catch (err) {
      // A whole-batch failure (a limit, a throw in transformBatch) fails this test only.
      if (err instanceof ApiError && err.status === 400) {
        tests.push({ name: entry.name, file, pass: false, errors: [err.message], actualOutput: [], ...(expected ? { expectedOutput: expected } : {}), logs: (err.details.logs as string[] | undefined) ?? [] });
        continue;
      }
      throw err;
    }
    const sorted = [...answer.results].sort((a, b) => a.index - b.index);
    const actualOutput = sorted.filter((r) => r.statusCode === 200).map((r) => r.output);
    const errors = sorted.filter((r) => r.statusCode !== 200).map((r) => `event ${r.index}: ${r.error ?? `status ${r.statusCode}`}`);
    const outcome: TestOutcome = { name: entry.name, file, pass: errors.length === 0, errors, actualOutput, logs: answer.logs };
    if (expected) {
      outcome.expectedOutput = expected;
      if (!sameJson(expected, actualOutput)) {
        outcome.pass = false;
        outcome.diff = jsonDiff(expected, actualOutput);
      }
    }
    tests.push(outcome);
  }
  return { pass: tests.every((t) => t.pass), tests };
}

// ---- publish ------------------------------------------------------------------------------------

export interface PublishResult {
  published: boolean;
  push: PushResult;
  transformations: { name: string; id: string; versionId: string }[];
  libraries: { name: string; id: string; versionId: string }[];
}

export async function publish(client: Client, project: Project, progress: Progress = quiet): Promise<PublishResult> {
  // Events first: a missing file stops the command before anything is saved.
  const events = project.manifest.transformations.map((entry, i) => (entry.testEvents ? readEvents(project, entry.testEvents, `transformations[${i}].testEvents`) : undefined));
  const pushed = await push(client, project, progress);
  const transformations = pushed.transformations.map((t) => ({ name: t.name, id: t.id, versionId: t.versionId }));
  const libraries = pushed.libraries.map((l) => ({ name: l.name, id: l.id, versionId: l.versionId }));
  if (transformations.length === 0 && libraries.length === 0) return { published: false, push: pushed, transformations, libraries };
  progress(`Publishing ${transformations.length} transformation(s) and ${libraries.length} librar${libraries.length === 1 ? 'y' : 'ies'} (their test events run first)`);
  try {
    await client.post('/transformations/libraries/publish', {
      transformations: pushed.transformations.map((t, i) => ({ versionId: t.versionId, ...(events[i] ? { testInput: events[i] } : {}) })),
      libraries: libraries.map((l) => ({ versionId: l.versionId })),
    });
  } catch (err) {
    if (err instanceof ApiError && err.status === 400) throw new CliError(EXIT.failed, err.message.startsWith('nothing was published') ? err.message : `nothing was published: ${err.message}`);
    throw err;
  }
  return { published: true, push: pushed, transformations, libraries };
}

export async function rollback(client: Client, transformationId: string, versionId: string): Promise<RemoteTransformation> {
  let version: RemoteTransformation;
  try {
    version = await client.get<RemoteTransformation>(`/transformations/${encodeURIComponent(transformationId)}/versions/${encodeURIComponent(versionId)}`);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 400)) throw inputError(`transformation ${transformationId} has no version ${versionId} (${err.message})`);
    throw err;
  }
  try {
    await client.post('/transformations/libraries/publish', { transformations: [{ versionId }] });
  } catch (err) {
    if (err instanceof ApiError && err.status === 400) throw new CliError(EXIT.failed, `nothing was published: ${err.message}`);
    throw err;
  }
  return version;
}

// ---- status -------------------------------------------------------------------------------------

export type ItemState = 'not on server' | 'local changes' | 'not published' | 'published';

export interface StatusItem {
  kind: 'library' | 'transformation';
  name: string;
  file: string;
  id: string | null;
  latestVersionId: string | null;
  publishedVersionId: string | null;
  state: ItemState;
}

export async function status(client: Client, project: Project): Promise<StatusItem[]> {
  const [remoteTransformations, remoteLibraries] = await Promise.all([listTransformations(client), listLibraries(client)]);
  const local = readLocal(project, remoteLibraries.map((l) => l.importName));
  const items: StatusItem[] = [];
  const judge = (kind: StatusItem['kind'], entry: { id?: string; name: string; file: string }, code: string, remote: (RemoteLibrary | RemoteTransformation) | undefined) => {
    const state: ItemState = !remote ? 'not on server' : remote.code !== code ? 'local changes' : remote.publishedVersionId !== remote.versionId ? 'not published' : 'published';
    items.push({ kind, name: entry.name, file: shown(project, entry.file), id: remote?.id ?? null, latestVersionId: remote?.versionId ?? null, publishedVersionId: remote?.publishedVersionId ?? null, state });
  };
  project.manifest.libraries.forEach((e, i) => judge('library', e, local.libraryCode[i]!, remoteLibraries.find((r) => (e.id ? r.id === e.id : r.name === e.name))));
  project.manifest.transformations.forEach((e, i) => judge('transformation', e, local.transformationCode[i]!, remoteTransformations.find((r) => (e.id ? r.id === e.id : r.name === e.name))));
  return items;
}
