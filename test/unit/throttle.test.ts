import { describe, expect, it } from 'vitest';
import { AuthThrottle } from '../../src/http/auth.js';

describe('AuthThrottle', () => {
  it('lets an address fail `limit` times, then asks it to wait until the window ends', () => {
    const throttle = new AuthThrottle(5, 60_000);
    const t0 = 1_000_000;
    for (let i = 0; i < 5; i++) {
      expect(throttle.retryAfter('10.0.0.1', t0 + i)).toBe(0);
      throttle.recordFailure('10.0.0.1', t0 + i);
    }
    expect(throttle.retryAfter('10.0.0.1', t0 + 10)).toBe(60);
    expect(throttle.retryAfter('10.0.0.1', t0 + 30_000)).toBe(30);
    expect(throttle.retryAfter('10.0.0.1', t0 + 59_999)).toBe(1);
    expect(throttle.retryAfter('10.0.0.1', t0 + 60_000)).toBe(0);
  });

  it('counts addresses apart', () => {
    const throttle = new AuthThrottle(2, 60_000);
    throttle.recordFailure('10.0.0.1', 0);
    throttle.recordFailure('10.0.0.1', 0);
    expect(throttle.retryAfter('10.0.0.1', 1)).toBeGreaterThan(0);
    expect(throttle.retryAfter('10.0.0.2', 1)).toBe(0);
    expect(throttle.retryAfter('::1', 1)).toBe(0);
  });

  it('starts a fresh window after the old one ends', () => {
    const throttle = new AuthThrottle(2, 1000);
    throttle.recordFailure('a', 0);
    throttle.recordFailure('a', 10);
    expect(throttle.retryAfter('a', 20)).toBe(1);
    throttle.recordFailure('a', 1000);
    expect(throttle.retryAfter('a', 1001)).toBe(0);
  });

  it('is off with a limit of 0', () => {
    const throttle = new AuthThrottle(0, 60_000);
    for (let i = 0; i < 1000; i++) throttle.recordFailure('a', i);
    expect(throttle.retryAfter('a', 1000)).toBe(0);
  });

  it('stays bounded under a flood of distinct addresses', () => {
    const throttle = new AuthThrottle(3, 60_000);
    for (let i = 0; i < 150_000; i++) throttle.recordFailure(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 0);
    const size = (throttle as unknown as { windows: Map<string, unknown> }).windows.size;
    expect(size).toBeLessThanOrEqual(100_000);
  });
});
