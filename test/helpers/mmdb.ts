// A small writer of the MaxMind DB format (https://maxmind.github.io/MaxMind-DB/), so tests get a
// geolocation database offline and never ship a binary fixture. It writes what a reader walks:
//
//   [search tree: nodeCount nodes of two records] [16 zero bytes] [data section]
//   ["\xAB\xCD\xEFMaxMind.com"] [metadata map]
//
// Each network's record is written once per distinct object (networks passed the same object share
// it, as in real databases, where many networks point at one city), and a string seen before is
// written as a pointer to its first copy. Meant for a handful of networks, not for speed.

import { writeFile } from 'node:fs/promises';

/** A uint16 in the data section (a plain integer is written as uint32). */
export class Uint16 {
  constructor(readonly value: number) {}
}

/**
 * What can go into a record. Integers 0..2^32-1 are uint32, negative integers int32, other numbers
 * doubles, bigints uint64 (uint128 past 2^64), Uint8Arrays bytes.
 */
export type MmdbValue = string | number | boolean | bigint | Uint8Array | Uint16 | MmdbValue[] | { [key: string]: MmdbValue };

export interface MmdbNetwork {
  /** CIDR: '192.0.2.0/24', '2001:db8::/32'. In an IPv6 database, IPv4 networks go under ::/96. */
  network: string;
  record: MmdbValue;
}

export interface MmdbOptions {
  ipVersion?: 4 | 6;
  /** Bits per tree record (default: the smallest that fits). */
  recordSize?: 24 | 28 | 32;
  databaseType?: string;
  languages?: string[];
  buildEpochSeconds?: number;
}

// Type numbers from the spec; those above 7 are "extended" (written after a zero type field).
const T = { pointer: 1, string: 2, double: 3, bytes: 4, uint16: 5, uint32: 6, map: 7, int32: 8, uint64: 9, uint128: 10, array: 11, boolean: 14 } as const;
const METADATA_MARKER = Buffer.from('abcdef4d61784d696e642e636f6d', 'hex');

/** Big-endian bytes of a non-negative integer, without leading zeros (0 is no bytes at all). */
function unsignedBytes(value: bigint): number[] {
  const bytes: number[] = [];
  for (let rest = value; rest > 0n; rest >>= 8n) bytes.unshift(Number(rest & 0xffn));
  return bytes;
}

/** The control byte(s): type and payload size (entries for maps, elements for arrays). */
function control(type: number, size: number): number[] {
  // Sizes past 28 spill into 1, 2 or 3 more bytes, each range starting where the last one ends.
  const [sizeField, extra] =
    size < 29 ? [size, []] : size < 285 ? [29, [size - 29]] : size < 65_821 ? [30, bigEndian(size - 285, 2)] : [31, bigEndian(size - 65_821, 3)];
  return type <= 7 ? [(type << 5) | sizeField, ...extra] : [sizeField, type - 7, ...extra];
}

/** A pointer to `offset` in the data section, in the smallest of the spec's four sizes (001SSVVV). */
function pointer(offset: number): number[] {
  if (offset < 2048) return [0x20 | (offset >> 8), offset & 0xff];
  if (offset < 526_336) return withHighBits(0x28, bigEndian(offset - 2048, 3));
  if (offset < 134_744_064) return withHighBits(0x30, bigEndian(offset - 526_336, 4));
  return [0x38, ...bigEndian(offset, 4)];
}

/** The first byte of `bytes` goes into the VVV bits of the control byte. */
const withHighBits = (controlByte: number, [high = 0, ...rest]: number[]) => [controlByte | high, ...rest];

/** `value` as exactly `width` big-endian bytes. */
function bigEndian(value: number, width: number): number[] {
  return Array.from({ length: width }, (_, i) => Math.floor(value / 2 ** (8 * (width - 1 - i))) & 0xff);
}

class DataWriter {
  private readonly chunks: Uint8Array[] = [];
  length = 0;
  private readonly strings = new Map<string, number>();

  constructor(private readonly dedupeStrings: boolean) {}

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  // Chunks rather than one number[]: a long string would not fit in a spread push.
  private emit(...parts: (number | Uint8Array)[]): void {
    for (const part of parts) {
      const chunk = typeof part === 'number' ? Uint8Array.of(part) : part;
      this.chunks.push(chunk);
      this.length += chunk.length;
    }
  }

  write(value: MmdbValue): void {
    if (typeof value === 'string') {
      const seen = this.strings.get(value);
      if (seen !== undefined) return void this.emit(...pointer(seen));
      if (this.dedupeStrings) this.strings.set(value, this.length);
      const utf8 = Buffer.from(value, 'utf8');
      this.emit(...control(T.string, utf8.length), utf8);
    } else if (typeof value === 'boolean') {
      this.emit(...control(T.boolean, value ? 1 : 0));
    } else if (typeof value === 'bigint') {
      const bytes = unsignedBytes(value);
      this.emit(...control(bytes.length > 8 ? T.uint128 : T.uint64, bytes.length), ...bytes);
    } else if (typeof value === 'number') {
      if (Number.isInteger(value) && value >= 0 && value < 2 ** 32) {
        const bytes = unsignedBytes(BigInt(value));
        this.emit(...control(T.uint32, bytes.length), ...bytes);
      } else if (Number.isInteger(value) && value < 0 && value >= -(2 ** 31)) {
        // Readers take a short int32 as unsigned, so a negative one is always written in full.
        const bytes = Buffer.alloc(4);
        bytes.writeInt32BE(value);
        this.emit(...control(T.int32, 4), bytes);
      } else {
        const bytes = Buffer.alloc(8);
        bytes.writeDoubleBE(value);
        this.emit(...control(T.double, 8), bytes);
      }
    } else if (value instanceof Uint16) {
      const bytes = unsignedBytes(BigInt(value.value));
      this.emit(...control(T.uint16, bytes.length), ...bytes);
    } else if (value instanceof Uint8Array) {
      this.emit(...control(T.bytes, value.length), value);
    } else if (Array.isArray(value)) {
      this.emit(...control(T.array, value.length));
      for (const item of value) this.write(item);
    } else {
      const entries = Object.entries(value);
      this.emit(...control(T.map, entries.length));
      for (const [key, item] of entries) {
        this.write(key);
        this.write(item);
      }
    }
  }
}

type Slot = TreeNode | { dataOffset: number } | undefined;
interface TreeNode {
  children: [Slot, Slot];
}

/** The network's prefix as bits, IPv4 networks moved under ::/96 in an IPv6 tree. */
function prefixBits(cidr: string, ipVersion: 4 | 6): number[] {
  const [address = '', lengthText = ''] = cidr.split('/');
  const length = Number(lengthText);
  let bytes: number[];
  if (address.includes(':')) {
    if (ipVersion === 4) throw new Error(`${cidr}: an IPv6 network in an IPv4 database`);
    const [head = '', tail] = address.split('::');
    const groups = (text: string) => (text === '' ? [] : text.split(':').map((group) => parseInt(group, 16)));
    const left = groups(head);
    const right = tail === undefined ? [] : groups(tail);
    const all = [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
    bytes = all.flatMap((group) => [group >> 8, group & 0xff]);
  } else {
    bytes = address.split('.').map(Number);
    if (ipVersion === 6) bytes = [...Array<number>(12).fill(0), ...bytes];
  }
  const prefixLength = address.includes(':') || ipVersion === 4 ? length : length + 96;
  if (!(prefixLength > 0 && prefixLength <= bytes.length * 8)) throw new Error(`${cidr}: bad prefix length`);
  return Array.from({ length: prefixLength }, (_, i) => ((bytes[i >> 3] ?? 0) >> (7 - (i & 7))) & 1);
}

/** The database file's bytes. Networks may overlap: a more specific network wins inside a broader one. */
export function buildMmdb(networks: MmdbNetwork[], options: MmdbOptions = {}): Buffer {
  const ipVersion = options.ipVersion ?? 6;
  const data = new DataWriter(true);
  const offsets = new Map<MmdbValue, number>();
  const root: TreeNode = { children: [undefined, undefined] };

  // Broader networks first, so a more specific one splits their leaf rather than being overwritten.
  const sorted = networks.map((n) => ({ ...n, bits: prefixBits(n.network, ipVersion) })).sort((a, b) => a.bits.length - b.bits.length);
  for (const { record, bits } of sorted) {
    let dataOffset = offsets.get(record);
    if (dataOffset === undefined) {
      dataOffset = data.length;
      offsets.set(record, dataOffset);
      data.write(record);
    }
    let node = root;
    bits.forEach((bit, depth) => {
      if (depth === bits.length - 1) return void (node.children[bit as 0 | 1] = { dataOffset: dataOffset! });
      let child = node.children[bit as 0 | 1];
      // A leaf of a broader network in the way: push it down to both halves.
      if (child === undefined || !('children' in child)) child = node.children[bit as 0 | 1] = { children: [child, child] };
      node = child;
    });
  }

  // Number the nodes breadth first; the root must be node 0.
  const order: TreeNode[] = [root];
  for (let i = 0; i < order.length; i++) for (const child of order[i]!.children) if (child && 'children' in child) order.push(child);
  const index = new Map(order.map((node, i) => [node, i]));
  const nodeCount = order.length;
  // A record is a node number, nodeCount for "no data", or nodeCount + 16 + an offset into the data section.
  const recordValue = (slot: Slot) => (slot === undefined ? nodeCount : 'children' in slot ? index.get(slot)! : nodeCount + 16 + slot.dataOffset);
  const largest = nodeCount + 16 + data.length;
  const recordSize = options.recordSize ?? (largest < 2 ** 24 ? 24 : largest < 2 ** 28 ? 28 : 32);
  if (largest >= 2 ** recordSize) throw new Error(`${recordSize}-bit records cannot hold ${largest}`);

  const nodeBytes = recordSize / 4;
  const tree = Buffer.alloc(nodeCount * nodeBytes);
  order.forEach((node, i) => {
    const [left, right] = node.children.map(recordValue) as [number, number];
    const at = i * nodeBytes;
    if (recordSize === 24) {
      tree.writeUIntBE(left, at, 3);
      tree.writeUIntBE(right, at + 3, 3);
    } else if (recordSize === 28) {
      // The middle byte holds the high nibble of each record: left's in its top half.
      tree.writeUIntBE(left & 0xffffff, at, 3);
      tree[at + 3] = ((left >>> 24) << 4) | (right >>> 24);
      tree.writeUIntBE(right & 0xffffff, at + 4, 3);
    } else {
      tree.writeUInt32BE(left, at);
      tree.writeUInt32BE(right, at + 4);
    }
  });

  // Metadata is decoded on its own (pointers there would be relative to it), so no string pointers.
  const metadata = new DataWriter(false);
  metadata.write({
    binary_format_major_version: new Uint16(2),
    binary_format_minor_version: new Uint16(0),
    build_epoch: BigInt(options.buildEpochSeconds ?? 1_700_000_000),
    database_type: options.databaseType ?? 'Tiller-Test-City',
    description: { en: 'Tiller test database' },
    ip_version: new Uint16(ipVersion),
    languages: options.languages ?? ['en'],
    node_count: nodeCount,
    record_size: new Uint16(recordSize),
  });
  return Buffer.concat([tree, Buffer.alloc(16), data.bytes(), METADATA_MARKER, metadata.bytes()]);
}

export async function writeMmdb(path: string, networks: MmdbNetwork[], options?: MmdbOptions): Promise<void> {
  await writeFile(path, buildMmdb(networks, options));
}

export interface CityFixture {
  country: string;
  countryName: string;
  city?: string;
  latitude: number;
  longitude: number;
  timeZone: string;
  accuracyRadius?: number;
}

/** A record shaped like GeoLite2-City's (the fields transformations read; English names only). */
export function cityRecord(fixture: CityFixture): { [key: string]: MmdbValue } {
  return {
    ...(fixture.city !== undefined ? { city: { geoname_id: 2_950_159, names: { en: fixture.city } } } : {}),
    country: { geoname_id: 2_921_044, iso_code: fixture.country, names: { en: fixture.countryName } },
    location: {
      accuracy_radius: new Uint16(fixture.accuracyRadius ?? 20),
      latitude: fixture.latitude,
      longitude: fixture.longitude,
      time_zone: fixture.timeZone,
    },
    registered_country: { geoname_id: 2_921_044, iso_code: fixture.country, names: { en: fixture.countryName } },
  };
}
