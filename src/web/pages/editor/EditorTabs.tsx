import type { ReactNode } from 'react';

export interface TabSpec<T extends string> {
  id: T;
  label: string;
}

/** An ARIA tab list (arrow keys move between tabs) over the one panel that is shown. */
export function EditorTabs<T extends string>({ label, tabs, active, onSelect, children }: { label: string; tabs: TabSpec<T>[]; active: T; onSelect: (id: T) => void; children: ReactNode }) {
  return (
    <div className="card">
      <div className="tabs" role="tablist" aria-label={label}>
        {tabs.map((entry) => (
          <button
            key={entry.id}
            type="button"
            role="tab"
            id={`tab-${entry.id}`}
            aria-selected={active === entry.id}
            aria-controls={`panel-${entry.id}`}
            tabIndex={active === entry.id ? 0 : -1}
            onClick={() => onSelect(entry.id)}
            onKeyDown={(event) => {
              if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return;
              const position = tabs.findIndex((candidate) => candidate.id === active);
              const next = tabs[(position + (event.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length];
              if (next) {
                onSelect(next.id);
                document.getElementById(`tab-${next.id}`)?.focus();
              }
            }}
          >
            {entry.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${active}`} aria-labelledby={`tab-${active}`}>
        {children}
      </div>
    </div>
  );
}
