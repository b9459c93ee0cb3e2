import { useCallback, useEffect, useMemo, useState } from 'react';
import { getResource, listLibraries, listTransformations, listVersions, type Library, type Resource, type ResourceKind, type ResourceVersion, type Transformation } from '../../api.js';
import { importedNames } from '../../code-analysis.js';
import { languageOf, type Language } from '../../language.js';
import { sampleCode } from '../../samples.js';
import { useAction } from '../../use-action.js';
import { labelVersions } from './VersionsPanel.js';

const VERSION_PAGE = 100;

export interface Draft {
  name: string;
  description: string;
  code: string;
  /** Chosen while creating; a saved resource's language never changes. */
  language: Language;
}

export function starterCode(kind: ResourceKind, language: Language): string {
  return sampleCode(kind, language);
}

/**
 * Everything the editor loads: the resource (copied into the draft the user edits), its version
 * history, and the workspace's libraries or transformations for import hints and "used by".
 */
export function useEditorData(kind: ResourceKind, id: string | null) {
  const isTransformation = kind === 'transformation';
  const [resource, setResource] = useState<Resource | null>(null);
  const [draft, setDraftState] = useState<Draft>({ name: '', description: '', code: starterCode(kind, 'javascript'), language: 'javascript' });
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
    if (!options.keepEdits) setDraft({ name: loaded.name, description: loaded.description ?? '', code: loaded.code ?? '', language: languageOf(loaded.language) });
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

  const { code, language } = draft;
  // A transformation may import only libraries of its own language.
  const sameLanguageLibraries = useMemo(() => libraries.filter((library) => languageOf(library.language) === language), [libraries, language]);
  const importedLibraries = useMemo(() => {
    const names = importedNames(code, language);
    return sameLanguageLibraries.filter((library) => names.includes(library.importName));
  }, [code, language, sameLanguageLibraries]);
  const { unknownImports, otherLanguageImports } = useMemo(() => {
    // Only once the workspace's libraries are known, so the warning never flashes while loading.
    if (!isTransformation || !librariesLoaded) return { unknownImports: [], otherLanguageImports: [] };
    const names = importedNames(code, language);
    const known = new Set(sameLanguageLibraries.map((library) => library.importName));
    const otherLanguage = new Set(libraries.filter((library) => !known.has(library.importName)).map((library) => library.importName));
    return {
      // Python code imports standard-library modules the same way it imports libraries, and the
      // dashboard cannot tell those apart: the server reports a missing library on save.
      unknownImports: language === 'javascript' ? names.filter((name) => !known.has(name) && !otherLanguage.has(name)) : [],
      otherLanguageImports: names.filter((name) => otherLanguage.has(name)),
    };
  }, [code, language, libraries, sameLanguageLibraries, isTransformation, librariesLoaded]);

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
    /** Imports naming a library written in the other language, which the transformation cannot use. */
    otherLanguageImports,
    usedBy,
    loadResource,
    loadVersions,
    loadRelated,
  };
}
