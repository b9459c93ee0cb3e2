import { ApiError } from '../../api.js';
import { positionFromMessage, withoutPositionSuffix } from '../../code-analysis.js';
import type { EditorProblem } from '../../components/CodeEditor.js';

/** A compile error the server reported (400) with a place in the code, for the editor to mark. */
export function problemFrom(error: unknown): EditorProblem | null {
  if (!(error instanceof ApiError) || error.status !== 400) return null;
  const message = withoutPositionSuffix(error.message);
  if (error.line) return { message, line: error.line, column: error.column };
  const position = positionFromMessage(error.message);
  return position ? { message, ...position } : null;
}
