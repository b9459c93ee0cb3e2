import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'tiller-config-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const PEPPER = 'p'.repeat(32);

function settingError(env: Record<string, string>): ConfigError {
  try {
    loadConfig({ TILLER_DATA_DIR: tempDir(), TILLER_PEPPER: PEPPER, ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('has working defaults for the token service', () => {
    const config = loadConfig({ TILLER_DATA_DIR: tempDir(), TILLER_PEPPER: PEPPER });
    expect(config.port).toBe(8080);
    expect(config.host).toBe('127.0.0.1');
    expect(config.databaseUrl).toBeUndefined();
    expect(config.authFailureLimit).toBe(20);
    expect(config.authFailureWindowMs).toBe(60_000);
    expect(config.tokenCacheSize).toBe(10_000);
    expect(config.tokenCacheTtlMs).toBe(30_000);
    expect(config.pepper.toString()).toBe(PEPPER);
  });

  it('lets flags override the environment', () => {
    const config = loadConfig({ TILLER_DATA_DIR: tempDir(), TILLER_PEPPER: PEPPER, PORT: '1234' }, { port: '4321' });
    expect(config.port).toBe(4321);
  });

  it('reads the auth and cache settings', () => {
    const config = loadConfig({ TILLER_DATA_DIR: tempDir(), TILLER_PEPPER: PEPPER, TILLER_AUTH_FAILURE_LIMIT: '5', TILLER_TOKEN_CACHE_SIZE: '0', TILLER_TOKEN_CACHE_TTL_SECONDS: '2' });
    expect(config.authFailureLimit).toBe(5);
    expect(config.tokenCacheSize).toBe(0);
    expect(config.tokenCacheTtlMs).toBe(2000);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '1.5'],
    ['TILLER_AUTH_FAILURE_LIMIT', '-1'],
    ['TILLER_TOKEN_CACHE_SIZE', 'lots'],
    ['LOG_LEVEL', 'loud'],
    ['DATABASE_URL', 'mysql://localhost/x'],
    ['TILLER_OWNER_EMAIL', 'not-an-email'],
    ['TILLER_TRUST_PROXY', 'maybe'],
    ['TILLER_PEPPER', 'short'],
  ])('names %s in the error when it is %j', (name, value) => {
    const err = settingError({ [name]: value });
    expect(err.setting).toBe(name);
    expect(err.message).toContain(name);
    expect(err.message.split('\n')).toHaveLength(1);
  });

  it('generates a pepper once per data dir, private to the owner, and reuses it', () => {
    const dir = tempDir();
    const first = loadConfig({ TILLER_DATA_DIR: dir });
    const second = loadConfig({ TILLER_DATA_DIR: dir });
    expect(first.pepper.length).toBeGreaterThanOrEqual(32);
    expect(second.pepper.equals(first.pepper)).toBe(true);
    expect(statSync(join(dir, 'pepper')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'pepper'), 'utf8').trim()).toBe(first.pepper.toString());
  });

  it('refuses a pepper file that is too short', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'pepper'), 'short\n');
    expect(() => loadConfig({ TILLER_DATA_DIR: dir })).toThrow(/TILLER_PEPPER/);
  });
});
