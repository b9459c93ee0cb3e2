// What user code's fetch/fetchV2 may reach (spec 7.5): which addresses are public, and the
// operator's allow-list of non-public ones. Kept apart from egress.ts (the HTTP client) so the
// server checks TILLER_OUTBOUND_ALLOW at start with the very parser the sandbox hosts use,
// without loading an HTTP client it never uses.

import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;
export type Range = [Address, number];

/** The only IPv6 space IANA allocates for global unicast; ipaddr.js calls everything it has no name for "unicast". */
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');
/** The well-known NAT64 prefix, whose last 32 bits are the IPv4 destination (RFC 6052). */
const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR('64:ff9b::/96');

/**
 * Whether an address is on the public internet. Refused, by ipaddr.js's `range()` (anything but
 * "unicast"): IPv4 unspecified 0/8, loopback 127/8, RFC 1918 private, carrier-grade NAT 100.64/10,
 * link-local 169.254/16 (cloud metadata 169.254.169.254), multicast 224/4, broadcast, the reserved
 * and documentation ranges (192.0.0/24, 192.0.2/24, 198.18/15, 198.51.100/24, 203.0.113/24, 240/4,
 * the 6to4 relay 192.88.99/24) and AS112/AMT; IPv6 ::, ::1, unique-local fc00::/7 (AWS metadata
 * fd00:ec2::254), link-local fe80::/10, site-local fec0::/10, multicast ff00::/8, discard 100::/64,
 * documentation, benchmarking, ORCHID, local-use NAT64 64:ff9b:1::/48 and SIIT ::ffff:0:0:0/96.
 * IPv6 must also lie in 2000::/3, which refuses IPv4-compatible ::a.b.c.d (ipaddr.js calls
 * ::127.0.0.1 "unicast") and all unallocated space. Addresses that carry an IPv4 destination are
 * judged by it: IPv4-mapped ::ffff:a.b.c.d (it is a.b.c.d), NAT64 64:ff9b::a.b.c.d, 6to4
 * 2002:aabb:ccdd:: and Teredo (server and client both). An unparseable address is not public.
 */
export function isPublicAddress(address: string): boolean {
  const parsed = parseAddress(address);
  return parsed !== undefined && reachable(parsed, []);
}

function parseAddress(address: string): Address | undefined {
  try {
    // ipaddr.js reads every IPv6 with a dotted tail (::a.b.c.d) as IPv4-mapped; spelling the tail
    // in hex gets the address actually written (glibc prints IPv4-compatible addresses that way).
    const dotted = /^(.*:)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(address);
    if (dotted && ipaddr.IPv4.isValidFourPartDecimal(dotted[2]!)) {
      const [a = 0, b = 0, c = 0, d = 0] = ipaddr.IPv4.parse(dotted[2]!).octets;
      return ipaddr.IPv6.parse(`${dotted[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`);
    }
    return ipaddr.parse(address);
  } catch {
    return undefined;
  }
}

function reachable(address: Address, allow: readonly Range[]): boolean {
  if (allow.some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits))) return true;
  if (address instanceof ipaddr.IPv4) return address.range() === 'unicast';
  const embedded = embeddedIPv4(address);
  if (embedded) return embedded.every((inner) => reachable(inner, allow));
  return address.range() === 'unicast' && address.match(GLOBAL_UNICAST_V6);
}

/** The IPv4 destinations an IPv6 address stands for, or undefined when it carries none. */
function embeddedIPv4(address: ipaddr.IPv6): ipaddr.IPv4[] | undefined {
  const words = address.parts;
  const ipv4 = (high: number, low: number) => new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
  switch (address.range()) {
    case 'ipv4Mapped':
      return [address.toIPv4Address()];
    case 'rfc6052':
      return address.match(NAT64_WELL_KNOWN) ? [ipv4(words[6]!, words[7]!)] : undefined;
    case '6to4':
      return [ipv4(words[1]!, words[2]!)];
    case 'teredo':
      // 2001:0:server:server:flags:port:client:client, the client address stored inverted.
      return [ipv4(words[2]!, words[3]!), ipv4(~words[6]! & 0xffff, ~words[7]! & 0xffff)];
    default:
      return undefined;
  }
}

/** Whether `address` may be connected to: public, or in the operator's allow-list. */
export type AddressCheck = (address: string) => boolean;

export function addressCheck(allow: readonly Range[]): AddressCheck {
  return (address) => {
    const parsed = parseAddress(address);
    return parsed !== undefined && reachable(parsed, allow);
  };
}

/**
 * An allow-list as an operator writes it in a setting, entries separated by commas or spaces:
 * `127.0.0.1/32, 10.1.0.0/16 ::1 fd00::/8`. A bare address is one host. Returns the entries as
 * `network/prefix`; throws an Error naming the first bad entry.
 */
export function parseEgressAllowList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .filter((entry) => entry !== '')
    .map((entry) => {
      const [address, bits] = parseRange(entry);
      return `${address.toString()}/${bits}`;
    });
}

export function parseRange(entry: string): Range {
  const bad = (why: string) => new Error(`invalid egress allow-list entry ${JSON.stringify(entry)}: ${why}`);
  const [text = '', prefix, ...extra] = entry.trim().split('/');
  if (extra.length > 0) throw bad('expected an address or address/prefix, like 10.0.0.0/8 or fd00::/8');
  let address: Address;
  // Only the forms people write: ipaddr.js would also take 0x7f.1 or 127.1, which nobody means in a setting.
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) address = ipaddr.IPv4.parse(text);
  else if (ipaddr.IPv6.isValid(text) && !text.includes('%')) address = ipaddr.IPv6.parse(text);
  else throw bad('not an IPv4 or IPv6 address');
  const width = address.kind() === 'ipv4' ? 32 : 128;
  let bits = width;
  if (prefix !== undefined) {
    if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > width) throw bad(`the prefix length must be a number from 0 to ${width}`);
    bits = Number(prefix);
  }
  // ::ffff:10.0.0.0/104 is 10.0.0.0/8: connections are judged by the IPv4 address inside.
  if (address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress() && bits >= 96) return networkOf(address.toIPv4Address(), bits - 96);
  return networkOf(address, bits);
}

function networkOf(address: Address, bits: number): Range {
  const cidr = `${address.toString()}/${bits}`;
  return [address.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(cidr) : ipaddr.IPv6.networkAddressFromCIDR(cidr), bits];
}

