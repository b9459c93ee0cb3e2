import { ApiError, type Library } from '../../api.js';
import type { EditorProblem } from '../../components/CodeEditor.js';
import { ErrorWithFrames, type GoToCode } from './ErrorFrames.js';
import { topOwnFrame, type ParsedError } from './stack-frames.js';

export interface EventError {
  /** The input position, when the answer says. */
  index?: number;
  error: ParsedError;
}

interface FrameLinks {
  libraries: Library[];
  onGoTo: GoToCode;
}

/** The events that failed, each with its message and where in the code it was thrown. */
export function EventErrors({ errors, libraries, onGoTo }: { errors: EventError[] } & FrameLinks) {
  return (
    <div className="alert alert-error" role="alert" data-testid="test-errors">
      <strong>{errors.length === 1 ? 'One event failed' : `${errors.length} events failed`}</strong>
      <ul style={{ margin: '4px 0 0', paddingLeft: 20 }}>
        {errors.map((entry, position) => (
          <li key={position}>
            {entry.index !== undefined ? `Event ${entry.index + 1}: ` : ''}
            <ErrorWithFrames error={entry.error} libraries={libraries} onGoTo={onGoTo} />
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The whole test failed (a limit, transformBatch threw, a compile error): like ErrorAlert, with frames. */
export function BatchError({ caught, error, libraries, onGoTo }: { caught: unknown; error: ParsedError } & FrameLinks) {
  const requestId = caught instanceof ApiError ? caught.requestId : undefined;
  return (
    <div className="alert alert-error" role="alert" data-testid="test-batch-error">
      <strong>The test failed as a whole. </strong>
      <ErrorWithFrames error={error} libraries={libraries} onGoTo={onGoTo} />
      {requestId ? (
        <div className="request-id">
          Request id: <code>{requestId}</code>
        </div>
      ) : null}
    </div>
  );
}

/**
 * Where the editor marks the error: the innermost frame in the tested code of the first error that
 * has one (the whole-batch error first, then the events in order).
 */
export function thrownAt(batch: ParsedError | null, events: EventError[]): EditorProblem | null {
  for (const entry of [...(batch ? [{ error: batch } as EventError] : []), ...events]) {
    const frame = topOwnFrame(entry.error);
    if (!frame) continue;
    const event = entry.index !== undefined ? `Event ${entry.index + 1}: ` : '';
    return { message: `${event}${entry.error.message}`, line: frame.line, column: frame.column };
  }
  return null;
}
