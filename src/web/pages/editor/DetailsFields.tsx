import type { Draft } from './use-editor-data.js';

interface DetailsFieldsProps {
  ids: { name: string; description: string };
  draft: Draft;
  onChange: (change: Partial<Draft>) => void;
  isTransformation: boolean;
  /** The resource exists already (a library's name is then fixed). */
  saved: boolean;
  canWrite: boolean;
  nameError: string | null;
}

/** Name and description above the code. */
export function DetailsFields({ ids, draft, onChange, isTransformation, saved, canWrite, nameError }: DetailsFieldsProps) {
  const fixedName = !isTransformation && saved;
  return (
    <div className="editor-meta">
      <div className="field" style={{ marginBottom: 0 }}>
        <label htmlFor={ids.name}>Name</label>
        <input
          id={ids.name}
          type="text"
          value={draft.name}
          maxLength={200}
          onChange={(event) => onChange({ name: event.target.value })}
          readOnly={!canWrite || fixedName}
          aria-invalid={nameError ? true : undefined}
          aria-describedby={nameError ? `${ids.name}-error` : fixedName ? `${ids.name}-hint` : undefined}
          autoComplete="off"
        />
        {nameError ? (
          <div className="field-error" id={`${ids.name}-error`}>
            {nameError}
          </div>
        ) : fixedName ? (
          <div className="hint" id={`${ids.name}-hint`}>
            A library's name fixes its import name, so it cannot change.
          </div>
        ) : !isTransformation ? (
          <div className="hint">
            Imported as the camelCase form of the name: “Price Tools” becomes <code>priceTools</code>.
          </div>
        ) : null}
      </div>
      <div className="field" style={{ marginBottom: 0 }}>
        <label htmlFor={ids.description}>Description (optional)</label>
        <input
          id={ids.description}
          type="text"
          value={draft.description}
          maxLength={1000}
          onChange={(event) => onChange({ description: event.target.value })}
          readOnly={!canWrite}
          autoComplete="off"
        />
      </div>
    </div>
  );
}
