import { ApiError } from '../../api.js';
import type { EditorProblem } from '../../components/CodeEditor.js';

function ProblemLine({ problem, onGoTo }: { problem: EditorProblem & { line: number }; onGoTo: (problem: EditorProblem & { line: number }) => void }) {
  return (
    <>
      Line {problem.line}
      {problem.column ? `, column ${problem.column}` : ''}: {problem.message}{' '}
      <button type="button" className="link" onClick={() => onGoTo(problem)}>
        Go to line {problem.line}
      </button>
    </>
  );
}

const placed = (problem: EditorProblem | null): problem is EditorProblem & { line: number } => Boolean(problem?.line);

/** A failed save (with its place in the code when known), or a problem a test run found. */
export function ProblemAlert({ id, saveError, problem, onGoTo }: { id: string; saveError: unknown; problem: EditorProblem | null; onGoTo: (problem: EditorProblem & { line: number }) => void }) {
  if (saveError) {
    return (
      <div className="alert alert-error" role="alert" id={id} data-testid="save-error">
        <strong>Not saved. </strong>
        {placed(problem) ? <ProblemLine problem={problem} onGoTo={onGoTo} /> : <span>{saveError instanceof Error ? saveError.message : String(saveError)}</span>}
        {saveError instanceof ApiError && saveError.requestId ? (
          <div className="request-id">
            Request id: <code>{saveError.requestId}</code>
          </div>
        ) : null}
      </div>
    );
  }
  if (!placed(problem)) return null;
  return (
    <div className="alert alert-error" role="alert" id={id}>
      <ProblemLine problem={problem} onGoTo={onGoTo} />
    </div>
  );
}
