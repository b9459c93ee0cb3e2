import type { ReactNode } from 'react';
import { READ_ONLY_REASON } from '../session.js';

// What a read-only access token sees instead of a change it may not make: the change's button,
// disabled, and once per page a note saying why. The API would answer 403 anyway.

/** The page's explanation; disabled buttons point to it by `id` for screen readers. */
export function ReadOnlyNote({ id, children = READ_ONLY_REASON }: { id: string; children?: ReactNode }) {
  return (
    <div className="alert alert-info" role="note" id={id}>
      {children}
    </div>
  );
}

/** A disabled button whose wrapper carries the reason as a tooltip: a disabled button shows none in every browser. */
export function ReadOnlyButton({ children, noteId, className, ariaLabel }: { children: ReactNode; noteId: string; className?: string; ariaLabel?: string }) {
  return (
    <span title={READ_ONLY_REASON}>
      <button type="button" className={className} disabled aria-label={ariaLabel} aria-describedby={noteId}>
        {children}
      </button>
    </span>
  );
}
