import { useCallback, useEffect, useMemo, useState } from 'react';
import { getResource, listLibraries, listTransformations, listVersions, type Library, type Resource, type ResourceKind, type ResourceVersion, type Transformation } from '../../api.js';
import { importedNames } from '../../code-analysis.js';
import { defaultLibraryCode, defaultTransformationCode } from '../../samples.js';
import { useAction } from '../../use-action.js';
import { labelVersions } from './VersionsPanel.js';

const VERSION_PAGE = 100;

export interface Draft {
  name: string;
  description: string;
  code: string;
}

export function starterCode(kind: ResourceKind): string {
  return kind === 'transformation' ? defaultTransformationCode : defaultLibraryCode;
}

/**
 * Everything the editor loads: the resource (copied into the draft the user edits), its version
 * history, and the workspace's libraries or transformations for import hints and "used by".
 */
export function useEditorData(kind: ResourceKind, id: string | null) {
  const isTransformation = kind === 'transformation';
  const [resource, setResource] = useState<Resource | null>(null);
  const [draft, setDraftState] = useState<Draft>({ name: '', description: '', code: starterCode(kind) });
  const [versions, setVersions] = useState<ResourceVersion[] | null>(null);
  const [libraries, setLibraries] = useState<Library[]>([]);
  const [librariesLoaded, setLibrariesLoaded] = useState(false);
  const [usedBy, setUsedBy] = useState<Transformation[] | null>(null);
  const setDraft = useCallback((change: Partial<Draft>) => setDraftState((current) => ({ ...current, ...change })), []);

  const resourceLoad = useAction(async (options: { keepEdits?: boolean } = {}) => {
    if (!id) return;
    const loaded = await getResource(kind, id);
    setResource(loaded);
    // A publish refreshes what is live without throwing away edits in progress.
    if (!options.keepEdits) setDraft({ name: loaded.name, description: loaded.description ?? '', code: loaded.code ?? '' });
  });
  const versionsLoad = useAction(async () => {
    if (id) setVersions(await listVersions(kind, id, VERSION_PAGE));
  });
  const loadResource = resourceLoad.run;
  const loadVersions = versionsLoad.run;

  const loadRelated = useCallback(async () => {
    try {
      if (isTransformation) {
        setLibraries(await listLibraries());
        setLibrariesLoaded(true);
      } else setUsedBy(await listTransformations());
    } catch {
      // Only decorations (import resolution, "used by") depend on this; the editor still works.
    }
  }, [isTransformation]);

  useEffect(() => {
    void loadResource();
    void loadVersions();
    void loadRelated();
  }, [kind, id, loadResource, loadVersions, loadRelated]);

  const complete = versions !== null && versions.length < VERSION_PAGE;
  const entries = useMemo(() => (versions ? labelVersions(versions, complete) : null), [versions, complete]);
  const publishedVersionId: string | null | undefined =
    resource && resource.publishedVersionId !== undefined
      ? resource.publishedVersionId
      : versions
        ? (versions.find((version) => version.isPublished)?.versionId ?? null)
        : undefined;

  const { code } = draft;
  const importedLibraries = useMemo(() => {
    const names = importedNames(code);
    return libraries.filter((library) => names.includes(library.importName));
  }, [code, libraries]);
  const unknownImports = useMemo(() => {
    // Only once the workspace's libraries are known, so the warning never flashes while loading.
    if (!isTransformation || !librariesLoaded) return [];
    const known = new Set(libraries.map((library) => library.importName));
    return importedNames(code).filter((name) => !known.has(name));
  }, [code, libraries, isTransformation, librariesLoaded]);

  return {
    resource,
    loadError: resourceLoad.error,
    draft,
    setDraft,
    versionsError: versionsLoad.error,
    versionCount: versions?.length,
    complete,
    entries,
    publishedVersionId,
    libraries,
    importedLibraries,
    unknownImports,
    usedBy,
    loadResource,
    loadVersions,
    loadRelated,
  };
}
