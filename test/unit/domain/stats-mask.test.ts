import { describe, expect, it } from 'vitest';
import { userLineOf } from '../../../src/domain/stats/live-stats.js';
import { MASK, maskedEventJson } from '../../../src/domain/stats/mask.js';

describe('maskedEventJson', () => {
  it('masks values under secret-looking keys and any string holding a credential value, keeps the rest', () => {
    const event = {
      userId: 'u1',
      context: { traits: { password: 'p4ss', apiKey: 'k', name: 'Ada' }, headers: { Authorization: 'Bearer x' } },
      properties: { note: 'sent with sk_live_0123456789 inside', list: ['sk_live_0123456789', 'fine'], tokenCount: { n: 3 } },
    };
    const { json, truncated } = maskedEventJson(event, ['sk_live_0123456789', 'ab', 42], 10_000);
    expect(truncated).toBe(false);
    expect(JSON.parse(json)).toEqual({
      userId: 'u1',
      context: { traits: { password: MASK, apiKey: MASK, name: 'Ada' }, headers: { Authorization: MASK } },
      // Under a secret-looking key, an object is searched rather than dropped.
      properties: { note: MASK, list: [MASK, 'fine'], tokenCount: { n: 3 } },
    });
  });

  it('keeps __proto__ as data, cuts what is too large, and survives what cannot be serialized', () => {
    const withProto = JSON.parse('{"__proto__": {"x": 1}, "a": 1}') as unknown;
    expect(JSON.parse(maskedEventJson(withProto, [], 1000).json)).toEqual(JSON.parse('{"__proto__": {"x": 1}, "a": 1}'));
    expect(maskedEventJson({ big: 'x'.repeat(500) }, [], 100)).toEqual({ json: JSON.stringify({ big: 'x'.repeat(500) }).slice(0, 100), truncated: true });
    expect(maskedEventJson({ n: 1n }, [], 100)).toEqual({ json: 'null', truncated: false });
  });
});

describe('userLineOf', () => {
  it("reads the line of the first stack frame, the user's code", () => {
    expect(userLineOf('TypeError: x is undefined\n    at transformEvent (Enrich users:2:20)')).toBe(2);
    expect(userLineOf('RangeError: negative\n    at cents (Price helpers:7:20)\n    at transformEvent (Checkout:3:15)')).toBe(7);
    expect(userLineOf('the transformation ran out of CPU time')).toBeNull();
  });
});
