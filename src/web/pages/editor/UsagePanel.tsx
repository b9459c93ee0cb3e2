import type { Transformation } from '../../api.js';
import { exportedNames, importedNames } from '../../code-analysis.js';
import { CopyButton } from '../../components/CopyButton.js';
import { Loading } from '../../components/Feedback.js';
import { languageOf, type Language } from '../../language.js';
import { href } from '../../router.js';

/** The import statement that fits what the library exports. */
function importLineFor(importName: string, code: string, language: Language): string {
  const exports = exportedNames(code, language);
  if (language === 'pythonfaas') return exports.named.length > 0 ? `from ${importName} import ${exports.named.slice(0, 3).join(', ')}` : `import ${importName}`;
  if (exports.named.length > 0) return `import { ${exports.named.slice(0, 3).join(', ')} } from "${importName}";`;
  return exports.hasDefault ? `import ${importName} from "${importName}";` : `import * as ${importName} from "${importName}";`;
}

/** A library's "How to import" tab: the import line to copy and the transformations that use it. */
export function UsagePanel({ importName, code, language, usedBy }: { importName: string | undefined; code: string; language: Language; usedBy: Transformation[] | null }) {
  const python = language === 'pythonfaas';
  if (!importName) {
    return (
      <div className="stack">
        <p className="muted">
          After you create the library, Tiller gives it an import name derived from its name, and {python ? 'Python' : 'JavaScript'} transformations import it
          with <code>{python ? 'from importName import name' : 'import { name } from "importName";'}</code>
        </p>
      </div>
    );
  }
  const importLine = importLineFor(importName, code, language);
  // Only transformations of the library's language can import it.
  const users = usedBy
    ? usedBy.filter((item) => languageOf(item.language) === language && (item.imports ?? importedNames(item.code ?? '', language)).includes(importName))
    : [];
  return (
    <div className="stack">
      <p>
        {python ? 'Python transformations' : 'JavaScript transformations'} import this library as <code>{importName}</code>:
      </p>
      <div className="import-snippet">
        <pre className="code-sample" style={{ flex: 1 }}>
          {importLine}
        </pre>
        <CopyButton text={importLine} label="Copy import" />
      </div>
      <p className="small muted">
        {python ? (
          <>
            Importing the whole module works too: <code>{`import ${importName}`}</code>, then <code>{`${importName}.name(...)`}</code>
          </>
        ) : (
          <>
            Named, default and namespace imports all work: <code>{`import * as ${importName} from "${importName}";`}</code>
          </>
        )}
      </p>
      <h3>Used by</h3>
      {usedBy === null ? (
        <Loading label="Looking for transformations that import it…" />
      ) : users.length === 0 ? (
        <p className="muted">No transformation imports it yet.</p>
      ) : (
        <ul>
          {users.map((item) => (
            <li key={item.id}>
              <a href={href(`/transformations/${encodeURIComponent(item.id)}`)}>{item.name}</a>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
