import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { toBase62 } from '../../src/domain/ids.js';
import { ACCESS_TOKEN_PREFIX, WORKSPACE_TOKEN_PREFIX, digestSecret, digestsEqual, generateSecret, redactSecrets, secretHint, secretKind } from '../../src/domain/secrets.js';

const PEPPER = Buffer.from('unit-pepper-0123456789abcdef0123456789');

describe('generateSecret', () => {
  it('carries the kind prefix, 30 random base62 characters and a 6-character checksum', () => {
    const access = generateSecret('access');
    const workspace = generateSecret('workspace');
    expect(access).toMatch(/^tlr_at_[0-9A-Za-z]{36}$/);
    expect(workspace).toMatch(/^tlr_ws_[0-9A-Za-z]{36}$/);
    const random = access.slice(ACCESS_TOKEN_PREFIX.length, ACCESS_TOKEN_PREFIX.length + 30);
    expect(access.slice(-6)).toBe(toBase62(crc32(random), 6));
  });

  it('has at least 160 bits of entropy in the random part', () => {
    // 30 base62 characters: 30 * log2(62) ≈ 178.6 bits.
    expect(30 * Math.log2(62)).toBeGreaterThanOrEqual(160);
  });

  it('never repeats and uses the whole alphabet without visible bias', () => {
    const seen = new Set<string>();
    const counts = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const s = generateSecret('access');
      expect(seen.has(s)).toBe(false);
      seen.add(s);
      for (const c of s.slice(ACCESS_TOKEN_PREFIX.length, ACCESS_TOKEN_PREFIX.length + 30)) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    expect(counts.size).toBe(62);
    const expected = (2000 * 30) / 62;
    for (const n of counts.values()) {
      expect(n).toBeGreaterThan(expected * 0.75);
      expect(n).toBeLessThan(expected * 1.25);
    }
  });
});

describe('secretKind', () => {
  it('recognizes both kinds of well-formed secrets', () => {
    expect(secretKind(generateSecret('access'))).toBe('access');
    expect(secretKind(generateSecret('workspace'))).toBe('workspace');
  });

  it('rejects a secret with one character changed (the checksum catches typos)', () => {
    const secret = generateSecret('access');
    for (const position of [ACCESS_TOKEN_PREFIX.length, ACCESS_TOKEN_PREFIX.length + 15, secret.length - 1]) {
      const c = secret[position]!;
      const replaced = secret.slice(0, position) + (c === 'a' ? 'b' : 'a') + secret.slice(position + 1);
      expect(secretKind(replaced)).toBeNull();
    }
  });

  it('rejects wrong prefixes, lengths and characters', () => {
    const secret = generateSecret('access');
    const body = secret.slice(ACCESS_TOKEN_PREFIX.length);
    expect(secretKind('tlr_xx_' + body)).toBeNull();
    expect(secretKind(body)).toBeNull();
    expect(secretKind(secret + 'a')).toBeNull();
    expect(secretKind(secret.slice(0, -1))).toBeNull();
    expect(secretKind(secret + '\n')).toBeNull();
    expect(secretKind(' ' + secret)).toBeNull();
    expect(secretKind('')).toBeNull();
    expect(secretKind(ACCESS_TOKEN_PREFIX)).toBeNull();
    expect(secretKind(WORKSPACE_TOKEN_PREFIX + body)).toBe('workspace'); // same body, other kind: the prefix decides
  });

  it('rejects the 27-character compat tokens the docs show', () => {
    expect(secretKind('1pHxUIA3jmxS2ip01zY696F80j7')).toBeNull();
    expect(secretKind('1pTlg62ZYqH2qkC05fsXTfRPEfr')).toBeNull();
  });
});

describe('digestSecret and digestsEqual', () => {
  it('is a keyed HMAC-SHA-256: same pepper same digest, other pepper other digest', () => {
    const secret = generateSecret('access');
    const digest = digestSecret(PEPPER, secret);
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(digestSecret(PEPPER, secret)).toBe(digest);
    expect(digestSecret(Buffer.from('another-pepper-0123456789abcdef0123'), secret)).not.toBe(digest);
    expect(digest).not.toContain(secret);
  });

  it('compares equal digests as equal and anything else as different, without throwing on length', () => {
    const a = digestSecret(PEPPER, 'a');
    expect(digestsEqual(a, a)).toBe(true);
    expect(digestsEqual(a, digestSecret(PEPPER, 'b'))).toBe(false);
    expect(digestsEqual(a, a.slice(1))).toBe(false);
    expect(digestsEqual('', a)).toBe(false);
  });
});

describe('secretHint', () => {
  it('shows the prefix and the last four characters only', () => {
    const secret = generateSecret('access');
    expect(secretHint(secret)).toBe(`tlr_at_…${secret.slice(-4)}`);
    const ws = generateSecret('workspace');
    expect(secretHint(ws)).toBe(`tlr_ws_…${ws.slice(-4)}`);
  });
});

describe('redactSecrets', () => {
  it('masks every secret-shaped substring and leaves other text alone', () => {
    const at = generateSecret('access');
    const ws = generateSecret('workspace');
    expect(redactSecrets(`/accessTokens?name=${at}&x=${ws}`)).toBe('/accessTokens?name=tlr_at_[redacted]&x=tlr_ws_[redacted]');
    expect(redactSecrets('/accessTokens?name=plain')).toBe('/accessTokens?name=plain');
  });
});
