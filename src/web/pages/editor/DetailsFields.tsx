import { TextField } from '../../components/TextField.js';
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
      <TextField
        id={ids.name}
        label="Name"
        value={draft.name}
        maxLength={200}
        onChange={(name) => onChange({ name })}
        readOnly={!canWrite || fixedName}
        error={nameError}
        hint={
          fixedName ? (
            "A library's name fixes its import name, so it cannot change."
          ) : !isTransformation ? (
            <>
              Imported as the camelCase form of the name: “Price Tools” becomes <code>priceTools</code>.
            </>
          ) : null
        }
        style={{ marginBottom: 0 }}
      />
      <TextField
        id={ids.description}
        label="Description (optional)"
        value={draft.description}
        maxLength={1000}
        onChange={(description) => onChange({ description })}
        readOnly={!canWrite}
        style={{ marginBottom: 0 }}
      />
    </div>
  );
}
