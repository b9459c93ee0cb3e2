import { useId, useState } from 'react';
import type { VersionEntry } from './VersionsPanel.js';

// The form that starts a canary or a shadow: which version, and on what share of live traffic.

export interface VersionShareFormProps {
  /** The form's accessible name ("Start a canary"). */
  name: string;
  versionLabel: string;
  shareLabel: string;
  maxPercent: number;
  initialPercent: number;
  submitLabel: string;
  candidates: VersionEntry[];
  /** Why the form cannot be used (a read-only token), or null. */
  reason: string | null;
  busy: boolean;
  onSubmit: (versionId: string, percent: number) => void;
}

export function VersionShareForm({ name, versionLabel, shareLabel, maxPercent, initialPercent, submitLabel, candidates, reason, busy, onSubmit }: VersionShareFormProps) {
  const ids = { version: useId(), percent: useId() };
  const [versionId, setVersionId] = useState('');
  const [percent, setPercent] = useState(initialPercent);
  const chosen = versionId || candidates[0]?.version.versionId || '';
  return (
    <form
      className="inline-fields"
      aria-label={name}
      onSubmit={(event) => {
        event.preventDefault();
        onSubmit(chosen, percent);
      }}
    >
      <div className="field">
        <label htmlFor={ids.version}>{versionLabel}</label>
        <select id={ids.version} value={chosen} onChange={(event) => setVersionId(event.target.value)}>
          {candidates.map((entry) => (
            <option key={entry.version.versionId} value={entry.version.versionId}>
              {entry.label}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor={ids.percent}>{shareLabel}</label>
        <input id={ids.percent} type="number" min={1} max={maxPercent} step={1} value={percent} onChange={(event) => setPercent(Number(event.target.value))} />
      </div>
      <button type="submit" disabled={reason !== null || busy} title={reason ?? undefined}>
        {submitLabel}
      </button>
    </form>
  );
}
