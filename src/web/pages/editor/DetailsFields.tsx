import { FieldNote, noteId, TextField } from '../../components/TextField.js';
import { languages, type Language } from '../../language.js';
import type { Draft } from './use-editor-data.js';

interface DetailsFieldsProps {
  ids: { name: string; description: string; language: string };
  draft: Draft;
  onChange: (change: Partial<Draft>) => void;
  /** The user picked another language while creating (the page may swap the sample code). */
  onLanguageChange: (language: Language) => void;
  isTransformation: boolean;
  /** The resource exists already (a library's name is then fixed). */
  saved: boolean;
  canWrite: boolean;
  nameError: string | null;
}

/** Name and description above the code. */
export function DetailsFields({ ids, draft, onChange, onLanguageChange, isTransformation, saved, canWrite, nameError }: DetailsFieldsProps) {
  const fixedName = !isTransformation && saved;
  const languageHint = saved ? 'Fixed when it was created.' : null;
  return (
    <div className="editor-meta with-language">
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
      <div className="field" style={{ marginBottom: 0 }}>
        <label htmlFor={ids.language}>Language</label>
        <select
          id={ids.language}
          value={draft.language}
          // The API refuses a language change, so only a new resource offers the choice.
          disabled={saved || !canWrite}
          onChange={(event) => onLanguageChange(event.target.value as Language)}
          aria-describedby={noteId(ids.language, null, languageHint)}
        >
          {languages.map((entry) => (
            <option key={entry.id} value={entry.id}>
              {entry.label}
            </option>
          ))}
        </select>
        <FieldNote fieldId={ids.language} hint={languageHint} />
      </div>
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
