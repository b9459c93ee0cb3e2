import { describe, expect, it } from 'vitest';
import { decodeBatchOutput } from '../../../src/runtime/contract.js';
import { RunError } from '../../../src/runtime/types.js';

// The host's half of sandbox output integrity: whatever string comes out of an isolate (the
// runner's, or one forged by code that got around it), decoding it yields only outcomes of that
// batch, each a JSON object, every input accounted for, within the output bounds, or a RunError.

const bounds = { maxOutputChars: 1000, maxOutputsPerEvent: 3 };

/** Encodes entries the way the bootstrap does: `${header.length}:${header}${body}`. */
function encode(kind: number, entries: Array<[number, number, string]>, logs: string[] = []): string {
  const header = `${kind},${logs.length},0,${logs.map((line) => `${line.length},`).join('')}${entries.map(([index, status, text]) => `${index},${status},${text.length},`).join('')}`;
  return `${header.length}:${header}${logs.join('')}${entries.map(([, , text]) => text).join('')}`;
}

function failure(encoded: string, eventCount: number, checkOnly = false): RunError {
  try {
    decodeBatchOutput(encoded, eventCount, bounds, { checkOnly });
  } catch (error) {
    expect(error).toBeInstanceOf(RunError);
    return error as RunError;
  }
  throw new Error('decoding succeeded');
}

describe('decodeBatchOutput', () => {
  it('decodes an honest answer: outputs, a fan-out, a failure and a drop', () => {
    const honest = encode(0, [[0, 200, '{"a":1}'], [1, 200, '{"b":1}'], [1, 200, '{"b":2}'], [2, 400, 'boom'], [3, 204, '']]);
    const output = decodeBatchOutput(honest, 4, bounds);
    expect(output.results.map((r) => [r.index, r.statusCode])).toEqual([[0, 200], [1, 200], [1, 200], [2, 400]]);
    expect(output.dropped).toEqual([3]);
    // The host's check passes it and builds nothing.
    expect(decodeBatchOutput(honest, 4, bounds, { checkOnly: true }).results).toEqual([]);
  });

  it('refuses an output event that splices extra entries into the answer (not one JSON object)', () => {
    const forged = '{"x":1}},"metadata":{"sourceId":"other"},"statusCode":200},{"output":{"y":2}';
    expect(failure(encode(0, [[0, 200, forged]]), 1, true).code).toBe('invalid_output');
    // The server's own decode (framing only) still refuses text that does not look like an object.
    expect(failure(encode(0, [[0, 200, '[1]']]), 1).code).toBe('invalid_output');
  });

  it('refuses an index outside the batch, events out of order, a missing event, and a second outcome after a failure', () => {
    expect(failure(encode(0, [[0, 200, '{}'], [1, 200, '{}']]), 1).message).toMatch(/index/);
    expect(failure(encode(0, [[1, 200, '{}'], [0, 200, '{}']]), 2).message).toMatch(/order/);
    expect(failure(encode(0, [[0, 200, '{}']]), 2).message).toMatch(/missing/);
    expect(failure(encode(0, [[0, 400, 'no'], [0, 200, '{}']]), 1).message).toMatch(/outcomes of one event/);
    expect(failure(encode(0, [[0, 204, ''], [0, 200, '{}']]), 1).message).toMatch(/outcomes of one event/);
    expect(failure(encode(0, [[0, -1, '{}']]), 1).code).toBe('invalid_output');
  });

  it('holds answers to the output bounds', () => {
    const many = encode(0, [[0, 200, '{}'], [0, 200, '{}'], [0, 200, '{}'], [0, 200, '{}']]);
    expect(failure(many, 1)).toMatchObject({ code: 'output_limit', message: expect.stringMatching(/more than 3 output events/) });
    const batch = encode(1, Array.from({ length: 7 }, (_, i) => [i, 200, '{}'] as [number, number, string]));
    expect(failure(batch, 2).code).toBe('output_limit');
    const big = encode(0, [[0, 200, `{"pad":"${'x'.repeat(1000)}"}`]]);
    expect(failure(big, 1).code).toBe('output_limit');
    // Failure texts or logs cannot smuggle a huge answer past the bound either...
    expect(failure(encode(0, [[0, 400, 'x'.repeat(3 * 1024 * 1024)]]), 1).code).toBe('output_limit');
    // ...but a failure message of full length for every event is an honest answer.
    const failures = Array.from({ length: 3000 }, (_, i) => [i, 400, 'e'.repeat(2001)] as [number, number, string]);
    expect(decodeBatchOutput(encode(0, failures), 3000, bounds).results).toHaveLength(3000);
  });

  it('refuses an output event nested deeper than the runner allows', () => {
    const deep = '{"a":'.repeat(1500) + '1' + '}'.repeat(1500);
    const roomy = { ...bounds, maxOutputChars: 1e6 };
    expect(() => decodeBatchOutput(encode(0, [[0, 200, deep]]), 1, roomy, { checkOnly: true })).toThrow(/nests too deeply/);
    const deepInString = `{"a":"${'['.repeat(5000)}"}`;
    expect(decodeBatchOutput(encode(0, [[0, 200, deepInString]]), 1, roomy, { checkOnly: true }).results).toEqual([]);
  });

  it('refuses broken framing: a header length past the end, a forged huge length, trailing data, negative counts', () => {
    expect(failure('999999999:1,0,0,', 0).message).toMatch(/header length/);
    expect(failure(`${'9'.repeat(40)}:x`, 0).message).toMatch(/header length/);
    expect(failure(`${encode(0, [[0, 200, '{}']])}extra`, 1).message).toMatch(/trailing/);
    expect(failure('7:0,-1,0,', 0).message).toMatch(/log count/);
  });

  it('passes a whole-batch failure the runner reported when only checking, and throws it when decoding', () => {
    const threw = encode(2, [[-1, 400, 'transformBatch threw']]);
    expect(decodeBatchOutput(threw, 3, bounds, { checkOnly: true }).results).toEqual([]);
    expect(failure(threw, 3)).toMatchObject({ code: 'batch_error', message: 'transformBatch threw' });
    expect(failure(encode(4, [[-1, 400, 'too big']]), 3).code).toBe('output_limit');
  });
});
