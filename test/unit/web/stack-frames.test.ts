import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseErrorFrames, topOwnFrame } from '../../../src/web/pages/editor/stack-frames.js';

const own = 'My transformation';

describe('parseErrorFrames', () => {
  it('splits the message from its frames and tells own frames from library ones', () => {
    const text = [
      "TypeError: Cannot read properties of undefined (reading 'x')",
      '    at transformEvent (My transformation:3:11)',
      '    at helper (My transformation:7:5)',
      '    at toCents (financeLib:2:9)',
    ].join('\n');
    expect(parseErrorFrames(text, own)).toEqual({
      message: "TypeError: Cannot read properties of undefined (reading 'x')",
      frames: [
        { fn: 'transformEvent', file: own, line: 3, column: 11, own: true },
        { fn: 'helper', file: own, line: 7, column: 5, own: true },
        { fn: 'toCents', file: 'financeLib', line: 2, column: 9, own: false },
      ],
    });
  });

  it('reads names with spaces, colons and parentheses from the right', () => {
    const name = 'Orders (v2): EU: 10:30';
    const text = [
      'Error: boom',
      `    at transformEvent (${name}:4:2)`,
      '    at round (Price (Tools):12:7)',
      `    at ${name}:20:1`,
      '    at Price (Tools):1:15',
    ].join('\n');
    expect(parseErrorFrames(text, name).frames).toEqual([
      { fn: 'transformEvent', file: name, line: 4, column: 2, own: true },
      { fn: 'round', file: 'Price (Tools)', line: 12, column: 7, own: false },
      { file: name, line: 20, column: 1, own: true },
      { file: 'Price (Tools)', line: 1, column: 15, own: false },
    ]);
  });

  it('reads anonymous top-level frames and V8 function names with spaces', () => {
    const text = ['Error: at load', `    at ${own}:9:1`, `    at async transformBatch (${own}:2:3)`, `    at new Order (${own}:5:8)`].join('\n');
    const { message, frames } = parseErrorFrames(text, own);
    expect(message).toBe('Error: at load');
    expect(frames.map((frame) => [frame.fn, frame.line, frame.column])).toEqual([
      [undefined, 9, 1],
      ['async transformBatch', 2, 3],
      ['new Order', 5, 8],
    ]);
    expect(frames[0]).not.toHaveProperty('fn');
  });

  it('answers the text as the message when there are no frames', () => {
    expect(parseErrorFrames('Error: userId is required', own)).toEqual({ message: 'Error: userId is required', frames: [] });
    expect(parseErrorFrames('', own)).toEqual({ message: '', frames: [] });
    expect(parseErrorFrames('Error: x\n\n', own)).toEqual({ message: 'Error: x', frames: [] });
  });

  it('reads CRLF and lone CR line ends', () => {
    const crlf = `RangeError: too deep\r\n    at walk (${own}:2:5)\r\n    at transformEvent (${own}:6:3)\r\n`;
    expect(parseErrorFrames(crlf, own)).toEqual({
      message: 'RangeError: too deep',
      frames: [
        { fn: 'walk', file: own, line: 2, column: 5, own: true },
        { fn: 'transformEvent', file: own, line: 6, column: 3, own: true },
      ],
    });
    expect(parseErrorFrames(`Error: x\r    at f (${own}:1:2)`, own).frames).toHaveLength(1);
  });

  it('keeps a message that spans lines whole, and only trailing frame lines count', () => {
    const text = `Error: first line\nsecond line\n    at not-a-frame\nthird line\n    at f (${own}:1:2)`;
    const { message, frames } = parseErrorFrames(text, own);
    expect(message).toBe('Error: first line\nsecond line\n    at not-a-frame\nthird line');
    expect(frames).toEqual([{ fn: 'f', file: own, line: 1, column: 2, own: true }]);
  });

  it('leaves out frame lines without a position, and survives garbage', () => {
    const text = [`Error: x`, `    at Array.map (<anonymous>)`, `    at transformEvent (${own}:3:1)`, '    at ', '    at (:1:2)', '    at f (x:1)', '    at :1:2'].join('\n');
    const { message, frames } = parseErrorFrames(text, own);
    expect(message).toBe('Error: x');
    expect(frames).toEqual([{ fn: 'transformEvent', file: own, line: 3, column: 1, own: true }]);

    expect(parseErrorFrames('    at f (a:1:2)', own)).toEqual({ message: 'Error', frames: [{ fn: 'f', file: 'a', line: 1, column: 2, own: false }] });
    for (const junk of ['at f (a:1:2)', ':::', '\n\n\r', '(((:1:2)))', 'Error:\n  at\n  at  at  at']) {
      const parsed = parseErrorFrames(junk, own);
      expect(parsed.frames.every((frame) => Number.isInteger(frame.line) && Number.isInteger(frame.column))).toBe(true);
    }
  });

  it('marks own frames by exact name only', () => {
    const text = `Error: x\n    at f (my transformation:1:2)\n    at g (My transformation :3:4)\n    at h (My transformation:5:6)`;
    expect(parseErrorFrames(text, own).frames.map((frame) => frame.own)).toEqual([false, false, true]);
  });

  it('round-trips any names it is given', () => {
    // A file name may be anything on one line that does not start with a space (V8 separates it
    // with one); a function name holds no " (" and no line break.
    const file = fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }).filter((name) => !/[\r\n]/.test(name) && !/^\s/.test(name));
    const fn = fc.stringMatching(/^[A-Za-z_$][\w$.<>\[\] ]{0,20}$/).filter((name) => !name.includes(' ('));
    const frame = fc.record({ fn: fc.option(fn, { nil: undefined }), file, line: fc.integer({ min: 1, max: 99_999 }), column: fc.integer({ min: 1, max: 999 }) });
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 6 }), file, (frames, ownName) => {
        const text = ['Error: boom', ...frames.map((entry) => `    at ${entry.fn ? `${entry.fn} (${entry.file}:${entry.line}:${entry.column})` : `${entry.file}:${entry.line}:${entry.column}`}`)].join('\n');
        const parsed = parseErrorFrames(text, ownName);
        expect(parsed.message).toBe('Error: boom');
        expect(parsed.frames).toEqual(frames.map((entry) => ({ ...(entry.fn ? { fn: entry.fn } : {}), file: entry.file, line: entry.line, column: entry.column, own: entry.file === ownName })));
      }),
    );
  });
});

describe('topOwnFrame', () => {
  it('is the innermost frame in the own code, past library frames', () => {
    const parsed = parseErrorFrames(`Error: x\n    at toCents (financeLib:2:9)\n    at helper (${own}:7:5)\n    at transformEvent (${own}:3:11)`, own);
    expect(topOwnFrame(parsed)).toMatchObject({ fn: 'helper', line: 7, column: 5 });
    expect(topOwnFrame(parseErrorFrames('Error: x\n    at toCents (financeLib:2:9)', own))).toBeUndefined();
  });
});

describe('parseErrorFrames on Python tracebacks', () => {
  // What the Python runner prints: outermost call first, a source line (and carets) under each frame.
  const traceback = [
    'Traceback (most recent call last):',
    `  File "${own}", line 4, in transformEvent`,
    '    return to_cents(event["properties"]["revenue"])',
    '  File "financeLib", line 2, in to_cents',
    '    return round(amount * 100)',
    '                 ~~~~~~~^~~~~',
    "TypeError: unsupported operand type(s) for *: 'NoneType' and 'int'",
  ].join('\n');

  it('reads the frames innermost first, with lines and no columns', () => {
    expect(parseErrorFrames(traceback, own)).toEqual({
      message: "TypeError: unsupported operand type(s) for *: 'NoneType' and 'int'",
      frames: [
        { fn: 'to_cents', file: 'financeLib', line: 2, own: false },
        { fn: 'transformEvent', file: own, line: 4, own: true },
      ],
    });
    expect(topOwnFrame(parseErrorFrames(traceback, own))).toMatchObject({ fn: 'transformEvent', line: 4 });
  });

  it('keeps the text before the traceback in the message and reads <module> as top-level code', () => {
    const text = ['top-level code threw Traceback (most recent call last):', `  File "${own}", line 1, in <module>`, '    x = 1 / 0', 'ZeroDivisionError: division by zero'].join('\n');
    expect(parseErrorFrames(text, own)).toEqual({
      message: 'top-level code threw ZeroDivisionError: division by zero',
      frames: [{ file: own, line: 1, own: true }],
    });
  });

  it('reads file names holding quotes and commas from the right', () => {
    const name = 'Orders "EU", v2';
    const text = ['Traceback (most recent call last):', `  File "${name}", line 9, in transformEvent`, 'KeyError: \'x\''].join('\n');
    expect(parseErrorFrames(text, name).frames).toEqual([{ fn: 'transformEvent', file: name, line: 9, own: true }]);
  });

  it('leaves a message without a traceback whole', () => {
    expect(parseErrorFrames("SyntaxError: invalid syntax (My transformation, line 3)", own)).toEqual({ message: 'SyntaxError: invalid syntax (My transformation, line 3)', frames: [] });
  });
});
