import { ApiError } from '../../api.js';
import { positionFromMessage, withoutPositionSuffix } from '../../code-analysis.js';
import type { EditorProblem } from '../../components/CodeEditor.js';
import { parseErrorFrames } from './stack-frames.js';

/** A compile error the server reported (400) with a place in the code, for the editor to mark. */
export function problemFrom(error: unknown): EditorProblem | null {
  if (!(error instanceof ApiError) || error.status !== 400) return null;
  // A runtime error's stack frames hold positions too, some in libraries: the test panel shows
  // those. Only the message itself may place a compile error.
  const text = parseErrorFrames(error.message, '').message;
  const message = withoutPositionSuffix(text);
  if (error.line) return { message, line: error.line, column: error.column };
  const position = positionFromMessage(text);
  return position ? { message, ...position } : null;
}
