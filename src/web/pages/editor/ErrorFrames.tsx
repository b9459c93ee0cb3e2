import type { CSSProperties } from 'react';
import type { Library } from '../../api.js';
import { href } from '../../router.js';
import type { ParsedError, StackFrame } from './stack-frames.js';

// Monospace and muted like a stack trace, indented under the message. Inline, because the shared
// stylesheet belongs to the whole dashboard and this is the only place frames are shown.
const frameListStyle: CSSProperties = {
  listStyle: 'none',
  margin: '2px 0 0',
  padding: '0 0 0 12px',
  fontFamily: 'var(--mono)',
  fontSize: '0.8rem',
  color: 'var(--text-muted)',
  overflowWrap: 'anywhere',
};
// A link-looking button that keeps the frame's font instead of the buttons' own.
const frameButtonStyle: CSSProperties = { font: 'inherit', padding: 0, whiteSpace: 'normal' };

export type GoToCode = (line: number, column?: number) => void;

const position = (frame: StackFrame) => (frame.column === undefined ? `line ${frame.line}` : `line ${frame.line}, column ${frame.column}`);

/** The library a frame ran in, by the name or import name the runtime printed. */
function libraryOf(frame: StackFrame, libraries: Library[]): Library | undefined {
  return libraries.find((library) => library.name === frame.file) ?? libraries.find((library) => library.importName === frame.file);
}

function FrameLine({ frame, libraries, onGoTo }: { frame: StackFrame; libraries: Library[]; onGoTo: GoToCode }) {
  const fn = frame.fn ?? '(top level)';
  if (frame.own) {
    return (
      <li data-testid="stack-frame" data-own="true">
        at {fn} (
        <button type="button" className="link" style={frameButtonStyle} onClick={() => onGoTo(frame.line, frame.column)} title={`Go to ${position(frame)} in the editor`}>
          {position(frame)}
        </button>
        )
      </li>
    );
  }
  // A library opens on its own page (which asks first if the editor holds unsaved work).
  const library = libraryOf(frame, libraries);
  return (
    <li data-testid="stack-frame">
      at {fn} ({library ? <a href={href(`/libraries/${encodeURIComponent(library.id)}`)}>{frame.file}</a> : frame.file}, {position(frame)})
    </li>
  );
}

/** An error's message with its stack frames beneath it, innermost first. */
export function ErrorWithFrames({ error, libraries, onGoTo }: { error: ParsedError; libraries: Library[]; onGoTo: GoToCode }) {
  return (
    <>
      <span style={{ whiteSpace: 'pre-wrap' }}>{error.message}</span>
      {error.frames.length > 0 ? (
        <ol style={frameListStyle} aria-label="Where the error happened">
          {error.frames.map((frame, index) => (
            <FrameLine key={index} frame={frame} libraries={libraries} onGoTo={onGoTo} />
          ))}
        </ol>
      ) : null}
    </>
  );
}
