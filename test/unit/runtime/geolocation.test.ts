import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Reader, type Response } from 'maxmind';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GeolocationError, geolocationUnavailable, openGeolocation, type Geolocation } from '../../../src/runtime/host/geolocation.js';
import { buildMmdb, cityRecord, Uint16, writeMmdb, type MmdbNetwork } from '../../helpers/mmdb.js';

// Documentation ranges only (RFC 5737, RFC 3849): no real address is in these databases.
const berlin = cityRecord({ country: 'DE', countryName: 'Germany', city: 'Berlin', latitude: 52.5244, longitude: 13.4105, timeZone: 'Europe/Berlin' });
const london = cityRecord({ country: 'GB', countryName: 'United Kingdom', city: 'London', latitude: 51.5142, longitude: -0.0931, timeZone: 'Europe/London', accuracyRadius: 5 });
const sydney = cityRecord({ country: 'AU', countryName: 'Australia', city: 'Sydney', latitude: -33.8715, longitude: 151.2006, timeZone: 'Australia/Sydney' });
const australia = cityRecord({ country: 'AU', countryName: 'Australia', latitude: -33, longitude: 151, timeZone: 'Australia/Sydney', accuracyRadius: 1000 });
// Values of every type a reader hands back that JSON cannot carry as they are.
const oddTypes = {
  small: 7n,
  huge: 2n ** 70n,
  bytes: Uint8Array.of(0, 1, 254, 255),
  notANumber: Number.NaN,
  negativeZero: -0,
  negative: -5,
  port: new Uint16(443),
  flags: [true, false],
  nested: [{ deep: ['a', 1.5] }],
};

const networks: MmdbNetwork[] = [
  { network: '203.0.113.0/24', record: berlin },
  { network: '203.0.113.128/25', record: london },
  // The same object: written once, as many networks share one city in a real database.
  { network: '198.51.100.7/32', record: berlin },
  { network: '192.0.2.0/24', record: oddTypes },
  { network: '2001:db8::/32', record: australia },
  { network: '2001:db8:5::/48', record: sydney },
];

const expectedBerlin = {
  city: { geoname_id: 2_950_159, names: { en: 'Berlin' } },
  country: { geoname_id: 2_921_044, iso_code: 'DE', names: { en: 'Germany' } },
  location: { accuracy_radius: 20, latitude: 52.5244, longitude: 13.4105, time_zone: 'Europe/Berlin' },
  registered_country: { geoname_id: 2_921_044, iso_code: 'DE', names: { en: 'Germany' } },
};

/** JSON.parse builds only plain objects and arrays, so toStrictEqual with its output proves plain data. */
const expectPlainJson = (value: unknown) => expect(JSON.parse(JSON.stringify(value))).toStrictEqual(value);

const failure = (geo: Geolocation, ip: unknown): GeolocationError => {
  try {
    geo.lookup(ip);
  } catch (error) {
    expect(error).toBeInstanceOf(GeolocationError);
    return error as GeolocationError;
  }
  throw new Error(`lookup(${String(ip)}) did not throw`);
};

const openFailure = async (path: string): Promise<Error> => {
  try {
    (await openGeolocation(path)).close();
  } catch (error) {
    return error as Error;
  }
  throw new Error(`${path} opened`);
};

let dir: string;
let geo: Geolocation;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tiller-geo-'));
  await writeMmdb(join(dir, 'city.mmdb'), networks, { databaseType: 'Tiller-Test-City', languages: ['en', 'de'], buildEpochSeconds: 1_700_000_000 });
  geo = await openGeolocation(join(dir, 'city.mmdb'));
});

afterAll(async () => {
  geo?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the test database writer', () => {
  it('writes files the maxmind reader reads back, with any record size and either IP version', () => {
    for (const recordSize of [24, 28, 32] as const) {
      for (const ipVersion of [4, 6] as const) {
        const reader = new Reader<Response>(buildMmdb(ipVersion === 6 ? networks : networks.filter((n) => !n.network.includes(':')), { recordSize, ipVersion }));
        expect(reader.metadata).toMatchObject({ recordSize, ipVersion, binaryFormatMajorVersion: 2, databaseType: 'Tiller-Test-City' });
        expect(reader.get('203.0.113.1')).toEqual(expectedBerlin);
        expect(reader.get('198.51.100.7')).toEqual(expectedBerlin);
        expect(reader.get('203.0.113.200')).toMatchObject({ city: { names: { en: 'London' } }, location: { accuracy_radius: 5 } });
        expect(reader.get('203.0.114.1')).toBeNull();
        expect(reader.get('198.51.100.8')).toBeNull();
        expect(reader.get('192.0.2.9')).toMatchObject({ small: 7n, huge: 2n ** 70n, negative: -5, port: 443, flags: [true, false], nested: [{ deep: ['a', 1.5] }] });
        if (ipVersion === 6) {
          expect(reader.get('2001:db8:5::1')).toMatchObject({ city: { names: { en: 'Sydney' } } });
          expect(reader.get('2001:db8:6::1')).toMatchObject({ country: { iso_code: 'AU' }, location: { accuracy_radius: 1000 } });
        }
      }
    }
  });

  it('points back at strings written earlier, with pointers of every size, and writes long strings', () => {
    const reader = new Reader<Response>(
      buildMmdb([
        { network: '10.0.0.0/8', record: { pad: 'p'.repeat(3000), near: 'near-value' } },
        { network: '10.1.0.0/16', record: { pad: 'q'.repeat(600_000), far: 'far-value' } },
        { network: '10.1.1.0/24', record: { pad: 'short', near: 'near-value', far: 'far-value', long: 'p'.repeat(3000) } },
      ]),
    );
    // 'near-value' first sits past 2 KB (a 3-byte pointer), 'far-value' past 512 KB (a 4-byte one).
    expect(reader.get('10.1.1.1')).toEqual({ pad: 'short', near: 'near-value', far: 'far-value', long: 'p'.repeat(3000) });
    expect((reader.get('10.1.0.1') as unknown as { pad: string }).pad).toHaveLength(600_000);
  });
});

describe('openGeolocation', () => {
  it('describes the file it opened', () => {
    expect(geo.database).toMatchObject({ path: join(dir, 'city.mmdb'), type: 'Tiller-Test-City', ipVersion: 6, builtAt: '2023-11-14T22:13:20.000Z', languages: ['en', 'de'] });
    expect(geo.database!.bytes).toBeGreaterThan(100);
  });

  it('answers an IPv4 address with the record of the most specific network holding it', () => {
    expect(geo.lookup('203.0.113.1')).toEqual(expectedBerlin);
    expect(geo.lookup('198.51.100.7')).toEqual(expectedBerlin);
    expect(geo.lookup('203.0.113.255')).toMatchObject({ city: { names: { en: 'London' } }, country: { iso_code: 'GB' }, location: { longitude: -0.0931 } });
  });

  it('answers IPv6 in any spelling, without a zone, and IPv4-mapped addresses as IPv4', () => {
    expect(geo.lookup('2001:db8:5::1')).toMatchObject({ city: { names: { en: 'Sydney' } } });
    expect(geo.lookup('2001:0DB8:0005:0000:0000:0000:0000:00ff')).toMatchObject({ city: { names: { en: 'Sydney' } } });
    expect(geo.lookup('2001:db8:5::1%eth0')).toMatchObject({ city: { names: { en: 'Sydney' } } });
    expect(geo.lookup('2001:db8:ffff::1')).toEqual(expect.not.objectContaining({ city: expect.anything() }));
    expect(geo.lookup('2001:db8:ffff::1')).toMatchObject({ country: { iso_code: 'AU' } });
    // The database has no ::ffff:0:0/96 alias; the lookup finds the IPv4 network all the same.
    expect(geo.lookup('::ffff:203.0.113.1')).toEqual(expectedBerlin);
    expect(geo.lookup('::FFFF:cb00:7101')).toEqual(expectedBerlin);
  });

  it('answers null for a valid address the database does not hold', () => {
    for (const ip of ['10.0.0.1', '127.0.0.1', '0.0.0.0', '255.255.255.255', '203.0.114.1', '2001:db9::1', '::1', '::', 'fe80::1%eth0']) {
      expect(geo.lookup(ip), ip).toBeNull();
    }
  });

  it('returns plain JSON data: no BigInt, Buffer, NaN or -0, and nothing shared with earlier answers', () => {
    const odd = geo.lookup('192.0.2.1');
    expect(odd).toStrictEqual({
      small: 7,
      huge: '1180591620717411303424',
      bytes: 'AAH+/w==',
      notANumber: null,
      negativeZero: 0,
      negative: -5,
      port: 443,
      flags: [true, false],
      nested: [{ deep: ['a', 1.5] }],
    });
    expectPlainJson(odd);
    for (const ip of ['203.0.113.1', '203.0.113.200', '2001:db8:5::1']) expectPlainJson(geo.lookup(ip));

    // The reader caches decoded records and shares them between networks; a caller's changes stay its own.
    const first = geo.lookup('198.51.100.7') as { city: { names: { en: string } } };
    first.city.names.en = 'changed';
    expect(geo.lookup('203.0.113.1')).toEqual(expectedBerlin);
    expect(geo.lookup('198.51.100.7')).toEqual(expectedBerlin);
  });

  it('rejects missing and invalid addresses with RudderStack’s messages, saying what was given', () => {
    const cases: [unknown, string, string][] = [
      [undefined, 'ip_required', 'ip address is required'],
      [null, 'ip_required', 'ip address is required'],
      ['', 'ip_required', 'ip address is required'],
      [0, 'ip_required', 'ip address is required'],
      ['not an ip', 'invalid_ip', 'invalid ip address: "not an ip"'],
      ['256.1.1.1', 'invalid_ip', 'invalid ip address: "256.1.1.1"'],
      ['010.0.0.1', 'invalid_ip', 'invalid ip address: "010.0.0.1"'],
      ['127.1', 'invalid_ip', 'invalid ip address: "127.1"'],
      [' 203.0.113.1', 'invalid_ip', 'invalid ip address: " 203.0.113.1"'],
      ['203.0.113.0/24', 'invalid_ip', 'invalid ip address: "203.0.113.0/24"'],
      ['2001:db8::1::2', 'invalid_ip', 'invalid ip address: "2001:db8::1::2"'],
      ['a\nb', 'invalid_ip', 'invalid ip address: "a\\nb"'],
      [`${'9'.repeat(100)}`, 'invalid_ip', `invalid ip address: "${'9'.repeat(64)}..."`],
      [3_405_803_777, 'invalid_ip', 'invalid ip address: expected a string, got a number'],
      [{ ip: '203.0.113.1' }, 'invalid_ip', 'invalid ip address: expected a string, got an object'],
      [['203.0.113.1'], 'invalid_ip', 'invalid ip address: expected a string, got an array'],
      [true, 'invalid_ip', 'invalid ip address: expected a string, got a boolean'],
    ];
    for (const [ip, code, message] of cases) {
      const error = failure(geo, ip);
      expect({ code: error.code, message: error.message }, String(ip)).toEqual({ code, message });
    }
  });

  it('answers null for IPv6 from an IPv4-only database, and still finds IPv4-mapped addresses', async () => {
    const path = join(dir, 'v4.mmdb');
    await writeMmdb(path, [{ network: '203.0.113.0/24', record: berlin }], { ipVersion: 4 });
    const v4 = await openGeolocation(path);
    expect(v4.database?.ipVersion).toBe(4);
    expect(v4.lookup('203.0.113.9')).toEqual(expectedBerlin);
    // Walked with an IPv6 address's bits, the 32-bit tree would answer for some unrelated network.
    expect(v4.lookup('cb00:7100::1')).toBeNull();
    expect(v4.lookup('::ffff:203.0.113.9')).toEqual(expectedBerlin);
    v4.close();
  });

  it('fails a lookup whose record cannot be decoded, or is not a map, without the reader’s details', async () => {
    const bytes = buildMmdb([{ network: '192.0.2.0/24', record: { a: 'b' } }, { network: '198.51.100.0/24', record: 'just a string' }]);
    const dataStart = new Reader<Response>(bytes).metadata.searchTreeSize + 16;
    // The first record (the first network's) starts the data section: make it an unknown extended type.
    bytes[dataStart] = 0x00;
    bytes[dataStart + 1] = 0x00;
    const path = join(dir, 'corrupt.mmdb');
    await writeFile(path, bytes);
    const corrupt = await openGeolocation(path);
    for (const ip of ['192.0.2.1', '198.51.100.1']) {
      const error = failure(corrupt, ip);
      expect([error.code, error.message]).toEqual(['lookup_failed', 'geolocation lookup failed']);
      expect(error.cause).toBeInstanceOf(Error);
    }
    expect(corrupt.lookup('203.0.113.1')).toBeNull();
    corrupt.close();
  });

  it('after close() answers that geolocation is not available, still checking the address first', async () => {
    const closing = await openGeolocation(join(dir, 'city.mmdb'));
    closing.close();
    expect(closing.database).toBeNull();
    expect([failure(closing, '203.0.113.1').code, failure(closing, '203.0.113.1').message]).toEqual(['not_configured', 'geolocation is not available right now']);
    expect(failure(closing, 'nope').message).toBe('invalid ip address: "nope"');
  });

  it('names the file when it is missing, unreadable or not a MaxMind DB', async () => {
    const missing = join(dir, 'missing.mmdb');
    expect((await openFailure(missing)).message).toBe(`cannot read the geolocation database ${missing}: no such file`);
    expect((await openFailure(dir)).message).toBe(`cannot read the geolocation database ${dir}: it is a directory`);

    const notMaxMind = async (name: string, contents: Uint8Array | string) => {
      const path = join(dir, name);
      await writeFile(path, contents);
      const { message } = await openFailure(path);
      expect(message.startsWith(`the geolocation database ${path} is not a MaxMind DB file: `), message).toBe(true);
      return message.slice(`the geolocation database ${path} is not a MaxMind DB file: `.length);
    };
    expect(await notMaxMind('empty.mmdb', '')).toBe('no metadata section');
    expect(await notMaxMind('text.mmdb', 'country,city\nDE,Berlin\n')).toBe('no metadata section');
    const good = buildMmdb(networks);
    expect(await notMaxMind('city.mmdb.gz', gzipSync(good))).toBe('it is gzip-compressed; extract the .mmdb file from the download');
    const tar = Buffer.concat([Buffer.alloc(512), good]);
    tar.write('ustar', 257, 'latin1');
    expect(await notMaxMind('city.tar', tar)).toBe('it is a tar archive; extract the .mmdb file from it');
    // The metadata is intact but the tree is not where it says: the bytes before it were cut off.
    expect(await notMaxMind('cut.mmdb', good.subarray(40))).toBe('no data section separator after the search tree');
    // The marker, then no readable metadata after it.
    expect(await notMaxMind('marker-only.mmdb', Buffer.concat([Buffer.alloc(64), Buffer.from('abcdef4d61784d696e642e636f6d', 'hex'), Buffer.from([0xff])]))).toMatch(/^unreadable metadata or search tree \(.+\)$/);
  });
});

describe('geolocationUnavailable (no database configured)', () => {
  it('checks the address, then answers as RudderStack does without a geolocation service', () => {
    expect(geolocationUnavailable.database).toBeNull();
    expect(failure(geolocationUnavailable, '').message).toBe('ip address is required');
    expect(failure(geolocationUnavailable, 'x').message).toBe('invalid ip address: "x"');
    const error = failure(geolocationUnavailable, '203.0.113.1');
    expect([error.name, error.code, error.message]).toEqual(['GeolocationError', 'not_configured', 'geolocation is not available right now']);
  });
});
