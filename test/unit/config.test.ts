import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';
import { ConfigError, fastifyTrustProxy, loadConfig, type Config } from '../../src/config.js';

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

  it('reads the live-events window: 15 minutes unless TILLER_LIVE_EVENTS_SECONDS says otherwise', () => {
    expect(loadConfig({ TILLER_DATA_DIR: tempDir(), TILLER_PEPPER: PEPPER }).liveEventsWindowMs).toBe(15 * 60_000);
    expect(loadConfig({ TILLER_DATA_DIR: tempDir(), TILLER_PEPPER: PEPPER, TILLER_LIVE_EVENTS_SECONDS: '30' }).liveEventsWindowMs).toBe(30_000);
    expect(() => loadConfig({ TILLER_DATA_DIR: tempDir(), TILLER_PEPPER: PEPPER, TILLER_LIVE_EVENTS_SECONDS: '0' })).toThrow(/TILLER_LIVE_EVENTS_SECONDS/);
  });

  it('drains 5 s after SIGTERM, migrates at start and keeps the runtime listener private unless told otherwise', () => {
    const defaults = loadConfig({ TILLER_DATA_DIR: tempDir(), TILLER_PEPPER: PEPPER });
    expect([defaults.drainDelayMs, defaults.migrateOnStart, defaults.runtimeAllowPublic]).toEqual([5000, true, false]);
    const set = loadConfig({ TILLER_DATA_DIR: tempDir(), TILLER_PEPPER: PEPPER, TILLER_DRAIN_DELAY_MS: '0', TILLER_MIGRATE_ON_START: 'false', TILLER_RUNTIME_ALLOW_PUBLIC: 'true' });
    expect([set.drainDelayMs, set.migrateOnStart, set.runtimeAllowPublic]).toEqual([0, false, true]);
  });

  it.each([
    ['TILLER_DRAIN_DELAY_MS', '-5'],
    ['TILLER_MIGRATE_ON_START', 'sometimes'],
    ['TILLER_RUNTIME_ALLOW_PUBLIC', 'yes please'],
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '1.5'],
    ['TILLER_AUTH_FAILURE_LIMIT', '-1'],
    ['TILLER_TOKEN_CACHE_SIZE', 'lots'],
    ['LOG_LEVEL', 'loud'],
    ['DATABASE_URL', 'mysql://localhost/x'],
    ['TILLER_OWNER_EMAIL', 'not-an-email'],
    ['TILLER_TRUST_PROXY', 'maybe'],
    ['TILLER_TRUST_PROXY', '10.0.0.0/33'],
    ['TILLER_TRUST_PROXY', '10.0.0.0/8,not-an-address'],
    ['TILLER_TRUST_PROXY', '10.1'],
    ['TILLER_TRUST_PROXY', '127.0.0.1,'],
    ['TILLER_TRUST_PROXY', '::1/129'],
    ['TILLER_TRUST_PROXY', '33'],
    ['TILLER_TRUST_PROXY', '-1'],
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

  describe('TILLER_TRUST_PROXY', () => {
    const trustProxy = (value?: string) => loadConfig({ TILLER_DATA_DIR: tempDir(), TILLER_PEPPER: PEPPER, ...(value === undefined ? {} : { TILLER_TRUST_PROXY: value }) }).trustProxy;

    it('trusts no proxy when unset, false or 0', () => {
      for (const value of [undefined, '', 'false', 'off', '0']) expect(trustProxy(value), String(value)).toBe(false);
    });

    it('still takes true (start-up warns about it)', () => {
      expect(trustProxy('true')).toBe(true);
      expect(trustProxy('YES')).toBe(true);
    });

    it('takes a hop count', () => {
      expect(trustProxy('1')).toBe(1);
      expect(trustProxy(' 2 ')).toBe(2);
    });

    it('takes a list of proxy addresses, CIDRs and named ranges', () => {
      expect(trustProxy('127.0.0.1')).toEqual(['127.0.0.1']);
      expect(trustProxy(' 10.0.0.0/8 , ::1, 2001:db8::/32,loopback ')).toEqual(['10.0.0.0/8', '::1', '2001:db8::/32', 'loopback']);
    });

    it('makes a hop count trust that many hops from the right, which Fastify 5 would ignore as a bare number', () => {
      const request = { headers: { 'x-forwarded-for': '10.1.2.3, 203.0.113.9, 198.51.100.1' }, socket: { remoteAddress: '127.0.0.1' } } as unknown as IncomingMessage;
      const client = (setting: Config['trustProxy']) => proxyAddr.all(request, fastifyTrustProxy(setting) as (address: string, hop: number) => boolean).at(-1);
      expect(client(1)).toBe('198.51.100.1');
      expect(client(2)).toBe('203.0.113.9');
      expect(client(3)).toBe('10.1.2.3');
      expect(client(9)).toBe('10.1.2.3');
      expect(client(['127.0.0.1', '198.51.100.0/24'])).toBe('203.0.113.9');
    });

    it('names the setting and the bad entry of a list', () => {
      const err = settingError({ TILLER_TRUST_PROXY: '127.0.0.1, 10.0.0.0/40' });
      expect(err.message).toMatch(/^invalid setting TILLER_TRUST_PROXY: "10\.0\.0\.0\/40"/);
    });
  });

  it('refuses a pepper file that is too short', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'pepper'), 'short\n');
    expect(() => loadConfig({ TILLER_DATA_DIR: dir })).toThrow(/TILLER_PEPPER/);
  });
});

describe('outbound settings (fetch, fetchV2, geolocation)', () => {
  it('default to no private addresses, 5 s calls, 1 MiB answers, 1000 calls per batch and no geolocation database', () => {
    const config = loadConfig({ TILLER_DATA_DIR: tempDir(), TILLER_PEPPER: PEPPER });
    expect(config.outbound).toEqual({ allow: [], timeoutMs: 5000, maxResponseBytes: 1024 * 1024, maxCallsPerBatch: 1000, maxRedirects: 5, geolocationDatabase: null });
  });

  it('take an allow-list of addresses and CIDR ranges, and name a bad entry', () => {
    const config = loadConfig({ TILLER_DATA_DIR: tempDir(), TILLER_PEPPER: PEPPER, TILLER_OUTBOUND_ALLOW: '10.1.0.0/16, 127.0.0.1 fd00::/8' });
    expect(config.outbound.allow).toEqual(['10.1.0.0/16', '127.0.0.1/32', 'fd00::/8']);
    const error = settingError({ TILLER_OUTBOUND_ALLOW: '10.1.0.0/16,intranet' });
    expect(error.message).toContain('TILLER_OUTBOUND_ALLOW');
    expect(error.message).toContain('"intranet"');
    // The forms the sandbox hosts would refuse are refused at start too.
    expect(settingError({ TILLER_OUTBOUND_ALLOW: '127.1' }).message).toContain('TILLER_OUTBOUND_ALLOW');
  });

  it('need a geolocation database that exists', () => {
    const dir = tempDir();
    const file = join(dir, 'city.mmdb');
    writeFileSync(file, 'x');
    expect(loadConfig({ TILLER_DATA_DIR: dir, TILLER_PEPPER: PEPPER, TILLER_GEOLOCATION_DATABASE: file }).outbound.geolocationDatabase).toBe(file);
    expect(settingError({ TILLER_GEOLOCATION_DATABASE: join(dir, 'missing.mmdb') }).message).toContain('is not a readable file');
    expect(settingError({ TILLER_GEOLOCATION_DATABASE: dir }).message).toContain('is not a readable file');
  });
});
