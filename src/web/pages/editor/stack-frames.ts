// Reads the stack frames the runtime appends to a runtime error:
//
//   TypeError: Cannot read properties of undefined (reading 'x')
//       at transformEvent (My transformation:3:11)
//       at toCents (financeLib:2:9)
//       at My transformation:9:1            <- a top-level (anonymous) frame
//
// File names are transformation and library names, which may hold spaces, parentheses and colons,
// so a frame is read from the right: the position is always last, the function name (which holds
// no " (") first, and the file is whatever lies between.
//
// Python code fails with Python's own traceback instead, outermost call first and without columns:
//
//   Traceback (most recent call last):
//     File "My transformation", line 4, in transformEvent
//       return to_cents(event["properties"]["revenue"])
//     File "financeLib", line 2, in to_cents
//       return round(amount * 100)
//   TypeError: unsupported operand type(s) for *: 'NoneType' and 'int'
//
// Both read into the same frames, innermost first.

export interface StackFrame {
  /** The function, absent for top-level code. */
  fn?: string;
  /** The transformation's or library's name, as the runtime printed it. */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based; absent in Python tracebacks, which give lines only. */
  column?: number;
  /** In the code being tested (the editor's), not in a library. */
  own: boolean;
}

export interface ParsedError {
  /** The error without its frames: usually one line, `Name: message`. */
  message: string;
  /** Innermost call first, as V8 prints them. */
  frames: StackFrame[];
}

const FRAME_LINE = /^\s+at\s+(.*?)\s*$/s;
const POSITION_AT_END = /:(\d+):(\d+)(\)?)$/;

function parseFrame(body: string, ownFileName: string): StackFrame | null {
  const position = POSITION_AT_END.exec(body);
  if (!position) return null;
  const line = Number(position[1]);
  const column = Number(position[2]);
  let location = body.slice(0, position.index);
  let fn: string | undefined;
  if (position[3]) {
    // `fn (file:line:col)`: function names never hold " (", file names may.
    const open = location.indexOf(' (');
    if (open <= 0) return null;
    fn = location.slice(0, open);
    location = location.slice(open + 2);
  }
  if (!location) return null;
  return { ...(fn ? { fn } : {}), file: location, line, column, own: location === ownFileName };
}

/**
 * Splits an error string into its message and its stack frames. Frames are the trailing run of
 * `    at …` lines, so a message that itself spans lines stays whole; text that has no such run
 * (every error before the runtime printed frames) comes back as the message with no frames.
 * Frame lines without a position (`at Array.map (<anonymous>)`) belong to the stack but are left
 * out: there is nowhere to go.
 */
export function parseErrorFrames(text: string, ownFileName: string): ParsedError {
  const lines = text.split(/\r\n|\r|\n/);
  const python = parsePythonTraceback(lines, ownFileName);
  if (python) return python;
  let end = lines.length;
  while (end > 0 && lines[end - 1]!.trim() === '') end -= 1;
  let start = end;
  while (start > 0 && FRAME_LINE.test(lines[start - 1]!)) start -= 1;

  const frames: StackFrame[] = [];
  for (const line of lines.slice(start, end)) {
    const frame = parseFrame(FRAME_LINE.exec(line)![1]!, ownFileName);
    if (frame) frames.push(frame);
  }
  const message = lines.slice(0, start).join('\n').trimEnd();
  return { message: message || (frames.length > 0 ? 'Error' : text.trim()), frames };
}

/** The innermost frame in the code being tested: where the editor should point. */
export function topOwnFrame(parsed: ParsedError): StackFrame | undefined {
  return parsed.frames.find((frame) => frame.own);
}

const TRACEBACK_HEAD = /Traceback \(most recent call last\):\s*$/;
const PYTHON_FRAME = /^\s+File "(.*)", line (\d+)(?:, in (.+?))?\s*$/;

/**
 * A Python traceback: what comes before its head ("top-level code threw "), the frames, and the
 * exception lines after them make the message. Null when the text holds no traceback.
 */
function parsePythonTraceback(lines: string[], ownFileName: string): ParsedError | null {
  const head = lines.findIndex((line) => TRACEBACK_HEAD.test(line));
  if (head < 0) return null;
  const before = [...lines.slice(0, head), lines[head]!.replace(TRACEBACK_HEAD, '')].join('\n').trim();
  const frames: StackFrame[] = [];
  let rest = head + 1;
  for (; rest < lines.length; rest += 1) {
    const line = lines[rest]!;
    const frame = PYTHON_FRAME.exec(line);
    if (frame) {
      const fn = frame[3] && frame[3] !== '<module>' ? frame[3] : undefined;
      const file = frame[1]!;
      frames.push({ ...(fn ? { fn } : {}), file, line: Number(frame[2]), own: file === ownFileName });
      continue;
    }
    // The source line and the carets under it are indented deeper than their frame line.
    if (/^\s/.test(line) && frames.length > 0) continue;
    break;
  }
  if (frames.length === 0) return null;
  const exception = lines.slice(rest).join('\n').trim();
  const message = [before, exception].filter(Boolean).join(' ');
  return { message: message || 'Error', frames: frames.reverse() };
}
