// The egress module against stub HTTP servers on 127.0.0.1. No test reaches any other address: a
// guard on net.Socket#connect records every connection attempt and refuses any destination (or
// resolved address) that is not loopback, so a policy bug fails the test instead of reaching the
// network, and "refused before connecting" is asserted on what the guard saw. Names under .test
// resolve through a fake dns.lookup (the one the egress module calls), so no test asks real DNS.

import dns, { type LookupAddress } from 'node:dns';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import net, { type AddressInfo, type LookupFunction, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { isPublicAddress, parseEgressAllowList } from '../../../src/runtime/addresses.js';
import { createEgress, EgressError, guardedConnector, type Egress, type EgressSettings, type OutboundRequest } from '../../../src/runtime/host/egress.js';

// ---------------------------------------------------------------------------------------------
// Connection guard

const LOOPBACK = new Set(['127.0.0.1', '::1']);
const connectAttempts: string[] = [];
const originalConnect = net.Socket.prototype.connect;

/** What the fake resolver answers for names under .test; any other .test name is NXDOMAIN. */
const FAKE_DNS: Record<string, LookupAddress[]> = {
  'stub.test': [{ address: '127.0.0.1', family: 4 }],
  'internal.test': [{ address: '10.0.0.1', family: 4 }],
  'metadata.test': [{ address: 'fd00:ec2::254', family: 6 }],
  'mapped.test': [{ address: '::ffff:169.254.169.254', family: 6 }],
  // A rebinding answer: one public address to pass a naive check, one private to reach.
  'rebind.test': [
    { address: '93.184.216.34', family: 4 },
    { address: '127.0.0.1', family: 4 },
  ],
};

const realLookup = dns.lookup;
function fakeLookup(hostname: string, options: dns.LookupOptions, callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void {
  if (!hostname.endsWith('.test')) {
    // server.listen looks its address up too; literals and localhost never leave the machine.
    if (hostname !== 'localhost' && net.isIP(hostname) === 0) throw new Error(`test guard: refused to resolve ${hostname}`);
    (realLookup as unknown as typeof fakeLookup)(hostname, options, callback);
    return;
  }
  const answer = FAKE_DNS[hostname];
  process.nextTick(() => {
    if (!answer) callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '');
    else if (options.all) callback(null, answer);
    else callback(null, answer[0]!.address, answer[0]!.family);
  });
}

beforeAll(() => {
  vi.spyOn(dns, 'lookup').mockImplementation(fakeLookup as unknown as typeof dns.lookup);
  net.Socket.prototype.connect = function guardedConnect(this: Socket, ...args: unknown[]) {
    // net.connect passes its normalized [options, callback] array; tls passes the options object.
    const first = (Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0]) as { host?: string; path?: string; lookup?: LookupFunction } | undefined;
    if (!first || typeof first !== 'object' || first.path) return Reflect.apply(originalConnect, this, args) as Socket;
    const host = first.host ?? 'localhost';
    connectAttempts.push(host);
    if (!LOOPBACK.has(host) && host !== 'localhost' && !host.endsWith('.test')) {
      process.nextTick(() => this.destroy(new Error(`test guard: refused a connection to ${host}`)));
      return this;
    }
    // A name connects to whatever its lookup answers: hold those answers to loopback too.
    const lookup = first.lookup ?? (dns.lookup as unknown as LookupFunction);
    first.lookup = (hostname, options, callback) =>
      lookup(hostname, options, (error, address, family) => {
        const addresses = typeof address === 'string' ? [address] : address.map((entry) => entry.address);
        const outside = addresses.find((entry) => entry !== '' && !LOOPBACK.has(entry));
        if (!error && outside !== undefined) callback(new Error(`test guard: refused a connection to ${outside} (${hostname})`), '');
        else callback(error, address, family);
      });
    return Reflect.apply(originalConnect, this, args) as Socket;
  } as typeof originalConnect;
});

afterAll(() => {
  net.Socket.prototype.connect = originalConnect;
  vi.restoreAllMocks();
});

beforeEach(() => {
  connectAttempts.length = 0;
});

// ---------------------------------------------------------------------------------------------
// Stub servers

interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

interface Stub {
  port: number;
  origin: string;
  requests: SeenRequest[];
  connections: Set<Socket>;
  connectionCount: () => number;
  /** Resolves once every connection the server accepted has closed. */
  allClosed: (timeoutMs?: number) => Promise<void>;
  close: () => Promise<void>;
}

const stubs: Stub[] = [];
const egresses: Egress[] = [];

async function startStub(handler: (req: IncomingMessage, res: ServerResponse, seen: SeenRequest, stub: Stub) => void): Promise<Stub> {
  let accepted = 0;
  const connections = new Set<Socket>();
  const requests: SeenRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(seen);
      handler(req, res, seen, stub);
    });
  });
  server.on('connection', (socket) => {
    accepted++;
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const stub: Stub = {
    port,
    origin: `http://127.0.0.1:${port}`,
    requests,
    connections,
    connectionCount: () => accepted,
    allClosed: async (timeoutMs = 2000) => {
      const deadline = Date.now() + timeoutMs;
      while (connections.size > 0) {
        if (Date.now() > deadline) throw new Error(`${connections.size} connection(s) still open`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  stubs.push(stub);
  return stub;
}

/** Answers every request with a JSON echo of what it received. */
const echo = (_req: IncomingMessage, res: ServerResponse, seen: SeenRequest) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(seen));
};

function egressOf(settings: Partial<EgressSettings> = {}): Egress {
  const egress = createEgress({ allow: ['127.0.0.1/32'], ...settings });
  egresses.push(egress);
  return egress;
}

afterEach(async () => {
  await Promise.all(egresses.splice(0).map((egress) => egress.close()));
  await Promise.all(stubs.splice(0).map((stub) => stub.close()));
});

async function failure(promise: Promise<unknown>): Promise<EgressError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(EgressError);
    return error as EgressError;
  }
  throw new Error('expected the request to fail');
}

// ---------------------------------------------------------------------------------------------

describe('isPublicAddress', () => {
  it.each([
    ['93.184.216.34', true],
    ['8.8.8.8', true],
    ['2606:2800:220:1::', true],
    ['2001:4860:4860::8888', true],
    ['::ffff:93.184.216.34', true],
    ['64:ff9b::5db8:d822', true], // NAT64 of 93.184.216.34
    ['2002:5db8:d822::1', true], // 6to4 of 93.184.216.34
    ['127.0.0.1', false],
    ['127.255.255.254', false],
    ['0.0.0.0', false],
    ['0.1.2.3', false],
    ['10.0.0.1', false],
    ['172.16.0.1', false],
    ['172.31.255.255', false],
    ['192.168.1.1', false],
    ['100.64.0.1', false],
    ['100.127.255.255', false],
    ['169.254.169.254', false],
    ['169.254.0.1', false],
    ['255.255.255.255', false],
    ['224.0.0.1', false],
    ['239.255.255.250', false],
    ['240.0.0.1', false],
    ['192.0.2.1', false],
    ['198.18.0.1', false],
    ['203.0.113.7', false],
    ['192.0.0.8', false],
    ['::1', false],
    ['::', false],
    ['fc00::1', false],
    ['fd00:ec2::254', false],
    ['fe80::1', false],
    ['fe80::1%eth0', false],
    ['fec0::1', false],
    ['ff02::1', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:169.254.169.254', false],
    ['::ffff:10.0.0.1', false],
    ['::127.0.0.1', false], // IPv4-compatible, deprecated
    ['::8.8.8.8', false], // IPv4-compatible, as glibc prints it
    ['::ffff:8.8.8.8', true],
    ['0:0:0:0:0:ffff:7f00:1', false],
    ['::ffff:0:7f00:1', false], // SIIT IPv4-translated
    ['64:ff9b::7f00:1', false], // NAT64 of 127.0.0.1
    ['64:ff9b::a9fe:a9fe', false], // NAT64 of 169.254.169.254
    ['64:ff9b:1::5db8:d822', false], // local-use NAT64 prefix
    ['2002:7f00:1::', false], // 6to4 of 127.0.0.1
    ['2002:a00:1::1', false], // 6to4 of 10.0.0.1
    ['2001:0:5db8:d822:0:0:f5ff:fffe', false], // Teredo, client 10.0.0.1
    ['2001:0:7f00:1:0:0:a247:2bdd', false], // Teredo, server 127.0.0.1
    ['2001:db8::1', false],
    ['100::1', false],
    ['4000::1', false], // outside 2000::/3, unallocated
    ['not an address', false],
    ['', false],
    ['999.1.1.1', false],
  ])('%s → public %s', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });
});

describe('parseEgressAllowList', () => {
  it('accepts addresses and ranges separated by commas or spaces, as network/prefix', () => {
    expect(parseEgressAllowList('127.0.0.1/32, ::1/128, 10.0.0.1')).toEqual(['127.0.0.1/32', '::1/128', '10.0.0.1/32']);
    expect(parseEgressAllowList(' 10.1.2.3/16  fd00::1/8,,172.16.0.0/12 ')).toEqual(['10.1.0.0/16', 'fd00::/8', '172.16.0.0/12']);
    expect(parseEgressAllowList('::ffff:10.0.0.0/104')).toEqual(['10.0.0.0/8']);
    expect(parseEgressAllowList('')).toEqual([]);
  });

  it.each(['localhost', '10.0.0.0/33', '::1/129', '10.0.0.0/x', '1.2.3.4/8/9', '0x7f.1', '127.1', '2130706433', 'fe80::1%eth0', '10.0.0.256'])('refuses %s, naming it', (entry) => {
    expect(() => parseEgressAllowList(`10.0.0.0/8, ${entry}`)).toThrow(`invalid egress allow-list entry ${JSON.stringify(entry)}`);
  });

  it('is what createEgress checks its allow setting with', () => {
    expect(() => createEgress({ allow: ['10.0.0.0/8', 'nope'] })).toThrow('invalid egress allow-list entry "nope"');
    expect(() => createEgress({ timeoutMs: 0 })).toThrow(RangeError);
    expect(() => createEgress({ maxRedirects: -1 })).toThrow(RangeError);
  });
});

describe('responses', () => {
  it('returns a JSON body with status, headers and the final url', async () => {
    const stub = await startStub((_req, res) => {
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.setHeader('X-Custom', 'yes');
      res.end(JSON.stringify({ hello: 'wörld', n: 1 }));
    });
    const response = await egressOf().request({ url: `${stub.origin}/data?x=1#frag` });
    expect(response.status).toBe(200);
    expect(response.url).toBe(`${stub.origin}/data?x=1`);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(response.headers['x-custom']).toBe('yes');
    expect(JSON.parse(response.body)).toEqual({ hello: 'wörld', n: 1 });
  });

  it('returns a text body with any status, joining repeated header fields', async () => {
    const stub = await startStub((_req, res) => {
      res.statusCode = 404;
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.setHeader('vary', ['accept', 'origin']);
      res.end('\uFEFFnot here');
    });
    const response = await egressOf().request({ url: `${stub.origin}/missing` });
    expect(response.status).toBe(404);
    expect(response.body).toBe('not here');
    expect(response.headers['set-cookie']).toBe('a=1, b=2');
    expect(response.headers.vary).toBe('accept, origin');
  });

  it('delivers the method, body and headers of a POST', async () => {
    const stub = await startStub(echo);
    const response = await egressOf().request({
      url: `${stub.origin}/submit`,
      method: 'post',
      headers: { 'Content-Type': 'application/json', 'X-Api-Key': 'k1', 'x-api-key': 'k2' },
      body: JSON.stringify({ a: 1 }),
    });
    const seen = JSON.parse(response.body) as SeenRequest;
    expect(seen.method).toBe('POST');
    expect(seen.url).toBe('/submit');
    expect(seen.body).toBe('{"a":1}');
    expect(seen.headers['content-type']).toBe('application/json');
    expect(seen.headers['x-api-key']).toBe('k1, k2');
    expect(seen.headers['content-length']).toBe('7');
    expect(seen.headers.accept).toBe('*/*');
  });

  it('labels a string body without a content type as text, as fetch does', async () => {
    const stub = await startStub(echo);
    const seen = JSON.parse((await egressOf().request({ url: stub.origin, method: 'PUT', body: 'plain' })).body) as SeenRequest;
    expect(seen.headers['content-type']).toBe('text/plain;charset=UTF-8');
    expect(seen.body).toBe('plain');
  });

  it('decodes gzip bodies', async () => {
    const stub = await startStub((_req, res) => {
      res.setHeader('content-encoding', 'gzip');
      res.end(gzipSync(JSON.stringify({ zipped: true })));
    });
    const response = await egressOf().request({ url: stub.origin });
    expect(JSON.parse(response.body)).toEqual({ zipped: true });
  });

  it('answers an empty body declared gzip with an empty string', async () => {
    const stub = await startStub((_req, res) => {
      res.setHeader('content-encoding', 'gzip');
      res.end();
    });
    expect((await egressOf().request({ url: stub.origin })).body).toBe('');
  });

  it('reports a body that does not decode as a network failure', async () => {
    const stub = await startStub((_req, res) => {
      res.setHeader('content-encoding', 'gzip');
      res.end('this is not gzip');
    });
    const error = await failure(egressOf().request({ url: stub.origin }));
    expect(error.code).toBe('network');
    expect(error.message).toContain(`request to ${stub.origin} failed: could not decode the gzip body`);
  });
});

describe('invalid requests', () => {
  it.each([
    ['ftp://127.0.0.1/file', 'invalid protocol, only http and https are supported'],
    ['file:///etc/passwd', 'invalid protocol, only http and https are supported'],
    ['data:text/plain,hello', 'invalid protocol, only http and https are supported'],
    ['javascript:alert(1)', 'invalid protocol, only http and https are supported'],
    ['ws://127.0.0.1/', 'invalid protocol, only http and https are supported'],
    ['not a url', 'invalid url, "not a url" is not an absolute URL'],
    ['/relative/path', 'invalid url, "/relative/path" is not an absolute URL'],
    ['', 'invalid url, "" is not an absolute URL'],
    ['http://', 'invalid url, "http://" is not an absolute URL'],
    ['http://1.2.3.4.5/', 'invalid url, "http://1.2.3.4.5/" is not an absolute URL'],
    ['http://user:secret@127.0.0.1/', 'invalid url, credentials in the url are not supported; send an authorization header'],
  ])('refuses %s', async (url, message) => {
    const error = await failure(egressOf().request({ url }));
    expect(error.code).toBe('invalid_request');
    expect(error.message).toBe(message);
    expect(connectAttempts).toEqual([]);
  });

  it('refuses a GET with a body, forbidden methods, bad header names and values, before connecting', async () => {
    const stub = await startStub(echo);
    const egress = egressOf();
    const cases: OutboundRequest[] = [
      { url: stub.origin, body: 'x' },
      { url: stub.origin, method: 'head', body: 'x' },
      { url: stub.origin, method: 'CONNECT' },
      { url: stub.origin, method: 'trace' },
      { url: stub.origin, method: 'BAD METHOD' },
      { url: stub.origin, headers: { 'bad name': 'x' } },
      { url: stub.origin, headers: { 'x-ok': 'line\r\nInjected: 1' } },
      { url: stub.origin, method: 'POST', body: 'abc', headers: { 'content-length': '10' } },
    ];
    for (const request of cases) {
      const error = await failure(egress.request(request));
      expect(error.code, JSON.stringify(request)).toBe('invalid_request');
    }
    expect(stub.requests).toEqual([]);
  });

  it('sends other method tokens as written', async () => {
    const stub = await startStub(echo);
    const seen = JSON.parse((await egressOf().request({ url: stub.origin, method: 'PATCH', body: '{}' })).body) as SeenRequest;
    expect(seen.method).toBe('PATCH');
  });
});

describe('the address policy', () => {
  it('refuses 127.0.0.1 when the allow-list does not name it, without connecting', async () => {
    const stub = await startStub(echo);
    const error = await failure(egressOf({ allow: [] }).request({ url: `${stub.origin}/` }));
    expect(error.code).toBe('blocked');
    expect(error.message).toBe('blocked request to non-public address: 127.0.0.1');
    expect(stub.connectionCount()).toBe(0);
    expect(connectAttempts).toEqual([]);
  });

  it('refuses a range outside the allow-list even when a neighbour is allowed', async () => {
    const error = await failure(egressOf({ allow: ['127.0.0.1/32'] }).request({ url: 'http://127.0.0.2:9/' }));
    expect(error.message).toBe('blocked request to non-public address: 127.0.0.2');
    expect(connectAttempts).toEqual([]);
  });

  it.each([
    ['http://[::1]:PORT/', '::1'],
    ['http://[::ffff:127.0.0.1]:PORT/', '::ffff:7f00:1'],
    ['http://[::ffff:7f00:1]:PORT/', '::ffff:7f00:1'],
    ['http://[::127.0.0.1]:PORT/', '::7f00:1'],
    ['http://[64:ff9b::7f00:1]:PORT/', '64:ff9b::7f00:1'],
    ['http://[fd00:ec2::254]/', 'fd00:ec2::254'],
    ['http://[fe80::1]/', 'fe80::1'],
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254'],
    ['http://10.0.0.1/', '10.0.0.1'],
    ['http://192.168.0.1/', '192.168.0.1'],
    ['http://100.64.0.1/', '100.64.0.1'],
    ['http://0.0.0.0:PORT/', '0.0.0.0'],
    ['http://2130706433:PORT/', '127.0.0.1'],
    ['http://0x7f.1:PORT/', '127.0.0.1'],
    ['http://0x7f000001:PORT/', '127.0.0.1'],
    ['http://0177.0.0.1:PORT/', '127.0.0.1'],
    ['http://127.1:PORT/', '127.0.0.1'],
    ['https://127.0.0.1:PORT/', '127.0.0.1'],
  ])('refuses %s (as %s) without connecting', async (template, shown) => {
    const stub = await startStub(echo);
    const error = await failure(egressOf({ allow: [] }).request({ url: template.replace('PORT', String(stub.port)) }));
    expect(error.code).toBe('blocked');
    expect(error.message).toBe(`blocked request to non-public address: ${shown}`);
    expect(connectAttempts).toEqual([]);
    expect(stub.connectionCount()).toBe(0);
  });

  it('refuses a host name that resolves to a non-public address, after resolving it', async () => {
    const stub = await startStub(echo);
    const error = await failure(egressOf({ allow: [] }).request({ url: `http://localhost:${stub.port}/` }));
    expect(error.code).toBe('blocked');
    expect(error.message).toBe('blocked request to non-public address: localhost');
    // The socket asked for the name; the check in its lookup stopped it before it connected.
    expect(connectAttempts).toEqual(['localhost']);
    expect(stub.connectionCount()).toBe(0);
  });

  it.each([
    ['internal.test', '10.0.0.1'],
    ['metadata.test', 'fd00:ec2::254'],
    ['mapped.test', '::ffff:169.254.169.254'],
    ['rebind.test', '127.0.0.1'],
  ])('refuses %s, which resolves to %s', async (name, address) => {
    const stub = await startStub(echo);
    const error = await failure(egressOf({ allow: [] }).request({ url: `http://${name}:${stub.port}/` }));
    expect(error.code).toBe('blocked');
    // The name only: the private address it resolves to is not the user's to learn.
    expect(error.message).toBe(`blocked request to non-public address: ${name}`);
    expect(error.message).not.toContain(address);
    expect(connectAttempts).toEqual([name]);
    expect(stub.connectionCount()).toBe(0);
  });

  it('connects a resolved name to the address it checked', async () => {
    const stub = await startStub(echo);
    const response = await egressOf().request({ url: `http://stub.test:${stub.port}/resolved` });
    expect(response.url).toBe(`http://stub.test:${stub.port}/resolved`);
    expect(stub.requests[0]!.headers.host).toBe(`stub.test:${stub.port}`);
  });

  it('reports a name that does not resolve as a network failure', async () => {
    const error = await failure(egressOf().request({ url: 'https://nowhere.test/path' }));
    expect(error.code).toBe('network');
    expect(error.message).toBe('request to https://nowhere.test failed: getaddrinfo ENOTFOUND nowhere.test');
  });

  it('reaches a host name whose every address is allowed', async () => {
    const stub = await startStub(echo);
    const response = await egressOf({ allow: ['127.0.0.1/32', '::1/128'] }).request({ url: `http://localhost:${stub.port}/named` });
    expect(response.status).toBe(200);
    expect(response.url).toBe(`http://localhost:${stub.port}/named`);
  });

  it('reaches the allowed address written in any form WHATWG URL normalizes to it', async () => {
    const stub = await startStub(echo);
    const response = await egressOf().request({ url: `http://2130706433:${stub.port}/decimal` });
    expect(response.url).toBe(`${stub.origin}/decimal`);
    expect(stub.requests).toHaveLength(1);
  });
});

describe('guardedConnector', () => {
  const connectWith = (permits: (address: string) => boolean, hostname: string, port: number) =>
    new Promise<{ error: Error | null; socket: Socket | null }>((resolve) => {
      guardedConnector(permits, 1000)({ hostname, host: `${hostname}:${port}`, protocol: 'http:', port: String(port) }, (error, socket) => resolve({ error, socket: socket as Socket | null }));
    });

  it('refuses an IP literal on its own, without a socket', async () => {
    const only127 = (address: string) => address === '127.0.0.1';
    for (const hostname of ['127.0.0.2', '::1', '169.254.169.254']) {
      const { error, socket } = await connectWith(only127, hostname, 9);
      expect(socket).toBeNull();
      expect(error).toBeInstanceOf(EgressError);
      expect(error?.message).toBe(`blocked request to non-public address: ${hostname}`);
    }
    expect(connectAttempts).toEqual([]);
  });

  it('checks what a host name resolves to, and connects to a permitted address', async () => {
    const stub = await startStub(echo);
    const refused = await connectWith(() => false, 'localhost', stub.port);
    expect(refused.error?.message).toBe('blocked request to non-public address: localhost');
    const allowed = await connectWith((address) => address === '127.0.0.1', '127.0.0.1', stub.port);
    expect(allowed.error).toBeNull();
    expect(allowed.socket?.remoteAddress).toBe('127.0.0.1');
    allowed.socket?.destroy();
    expect(stub.connectionCount()).toBe(1);
  });
});

describe('redirects', () => {
  /** `/to?url=<target>&status=<code>` redirects; everything else is echoed. */
  const redirector = (req: IncomingMessage, res: ServerResponse, seen: SeenRequest) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    if (url.pathname === '/to') {
      res.statusCode = Number(url.searchParams.get('status') ?? 302);
      res.setHeader('location', url.searchParams.get('url') ?? '/');
      res.end('moved');
      return;
    }
    echo(req, res, seen);
  };
  const to = (stub: Stub, target: string, status = 302) => `${stub.origin}/to?status=${status}&url=${encodeURIComponent(target)}`;

  it('follows a redirect within the origin, keeping credentials, and reports the final url', async () => {
    const stub = await startStub(redirector);
    const response = await egressOf().request({ url: to(stub, '/final?q=1'), headers: { authorization: 'Bearer secret', cookie: 'c=1' } });
    expect(response.status).toBe(200);
    expect(response.url).toBe(`${stub.origin}/final?q=1`);
    const seen = JSON.parse(response.body) as SeenRequest;
    expect(seen.headers.authorization).toBe('Bearer secret');
    expect(seen.headers.cookie).toBe('c=1');
  });

  it('drops authorization and cookie on a redirect to another origin', async () => {
    const first = await startStub(redirector);
    const second = await startStub(echo);
    const response = await egressOf().request({
      url: to(first, `${second.origin}/landing`),
      headers: { Authorization: 'Bearer secret', Cookie: 'c=1', 'X-Trace': 't' },
    });
    expect(response.url).toBe(`${second.origin}/landing`);
    const seen = second.requests[0]!;
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers.cookie).toBeUndefined();
    expect(seen.headers['x-trace']).toBe('t');
    expect(first.requests[0]!.headers.authorization).toBe('Bearer secret');
  });

  it.each([
    [303, 'POST', 'GET', ''],
    [303, 'PUT', 'GET', ''],
    [302, 'POST', 'GET', ''],
    [301, 'POST', 'GET', ''],
    [307, 'POST', 'POST', 'payload'],
    [308, 'PUT', 'PUT', 'payload'],
    [302, 'PUT', 'PUT', 'payload'],
  ])('a %i answering %s continues as %s', async (status, method, expectedMethod, expectedBody) => {
    const stub = await startStub(redirector);
    await egressOf().request({ url: to(stub, '/next', status), method, body: 'payload', headers: { 'content-type': 'text/x-test' } });
    const seen = stub.requests[1]!;
    expect(seen.method).toBe(expectedMethod);
    expect(seen.body).toBe(expectedBody);
    expect(seen.headers['content-type']).toBe(expectedBody === '' ? undefined : 'text/x-test');
  });

  it.each([
    ['http://127.0.0.2:PORT/', '127.0.0.2'],
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254'],
    ['http://[::1]:PORT/', '::1'],
    ['http://0x7f.0.0.2:PORT/', '127.0.0.2'],
  ])('refuses a redirect from the allowed stub to %s', async (template, shown) => {
    const stub = await startStub(redirector);
    const error = await failure(egressOf().request({ url: to(stub, template.replace('PORT', String(stub.port))) }));
    expect(error.code).toBe('blocked');
    expect(error.message).toBe(`blocked request to non-public address: ${shown}`);
    expect(connectAttempts.every((host) => host === '127.0.0.1')).toBe(true);
    expect(stub.requests).toHaveLength(1);
  });

  it('refuses a redirect to a host name that resolves to a refused address', async () => {
    const stub = await startStub(redirector);
    const error = await failure(egressOf().request({ url: to(stub, `http://internal.test:${stub.port}/`) }));
    expect(error.code).toBe('blocked');
    expect(error.message).toBe('blocked request to non-public address: internal.test');
    expect(stub.requests).toHaveLength(1);
  });

  it('refuses a redirect to another scheme', async () => {
    const stub = await startStub(redirector);
    const error = await failure(egressOf().request({ url: to(stub, 'file:///etc/passwd') }));
    expect(error.code).toBe('invalid_request');
    expect(error.message).toMatch(/^invalid protocol, only http and https are supported/);
  });

  it('follows maxRedirects redirects and fails on one more', async () => {
    const stub = await startStub((req, res, seen) => {
      const hop = Number(new URL(req.url ?? '/', 'http://stub').searchParams.get('hop') ?? 0);
      if (hop < 3) {
        res.statusCode = 302;
        res.setHeader('location', `/?hop=${hop + 1}`);
        res.end();
        return;
      }
      echo(req, res, seen);
    });
    expect((await egressOf({ maxRedirects: 3 }).request({ url: `${stub.origin}/` })).url).toBe(`${stub.origin}/?hop=3`);
    stub.requests.length = 0;
    const error = await failure(egressOf({ maxRedirects: 2 }).request({ url: `${stub.origin}/` }));
    expect(error.code).toBe('network');
    expect(error.message).toBe(`request to ${stub.origin} failed: more than 2 redirects`);
    expect(stub.requests).toHaveLength(3);
  });

  it('returns a redirect without a location as it is', async () => {
    const stub = await startStub((_req, res) => {
      res.statusCode = 302;
      res.end('nowhere');
    });
    const response = await egressOf().request({ url: stub.origin });
    expect(response.status).toBe(302);
    expect(response.body).toBe('nowhere');
  });
});

describe('time, size and cancellation', () => {
  /** Reads the request and never answers. */
  const silent = () => undefined;

  it('times out a server that never answers and closes the socket', async () => {
    const stub = await startStub(silent);
    const started = Date.now();
    const error = await failure(egressOf({ timeoutMs: 300 }).request({ url: `${stub.origin}/slow` }));
    expect(error.code).toBe('timeout');
    expect(error.message).toBe(`request to ${stub.origin} timed out after 300 ms`);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(stub.connectionCount()).toBe(1);
    await stub.allClosed();
  });

  it('times out a body that stalls halfway, the timeout covering the whole call', async () => {
    const stub = await startStub((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
    });
    const error = await failure(egressOf({ timeoutMs: 300 }).request({ url: stub.origin }));
    expect(error.code).toBe('timeout');
    await stub.allClosed();
  });

  it('stops when the caller aborts, closing the socket', async () => {
    const stub = await startStub(silent);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = await failure(egressOf().request({ url: `${stub.origin}/slow` }, controller.signal));
    expect(error.code).toBe('aborted');
    expect(error.message).toBe(`request to ${stub.origin} was aborted`);
    await stub.allClosed();
  });

  it('does not start when the caller has already aborted', async () => {
    const stub = await startStub(echo);
    const error = await failure(egressOf().request({ url: stub.origin }, AbortSignal.abort()));
    expect(error.code).toBe('aborted');
    expect(stub.connectionCount()).toBe(0);
  });

  it('fails a body declared larger than the limit', async () => {
    const stub = await startStub((_req, res) => res.end('x'.repeat(2048)));
    const error = await failure(egressOf({ maxResponseBytes: 1024 }).request({ url: stub.origin }));
    expect(error.code).toBe('too_large');
    expect(error.message).toBe(`the response from ${stub.origin} is larger than the 1 KiB limit`);
  });

  it('stops reading an endless streamed body at the limit and closes the socket', async () => {
    const stub = await startStub((_req, res) => {
      const chunk = 'y'.repeat(16 * 1024);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      res.socket?.on('close', () => res.destroy());
      pump();
    });
    const error = await failure(egressOf({ maxResponseBytes: 100_000 }).request({ url: stub.origin }));
    expect(error.code).toBe('too_large');
    expect(error.message).toContain('larger than the 100000 bytes limit');
    await stub.allClosed();
  });

  it('caps the decoded size of a compressed body', async () => {
    const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024));
    const stub = await startStub((_req, res) => {
      res.setHeader('content-encoding', 'gzip');
      res.end(bomb);
    });
    expect(bomb.length).toBeLessThan(64 * 1024);
    const error = await failure(egressOf({ maxResponseBytes: 1024 * 1024 }).request({ url: stub.origin }));
    expect(error.code).toBe('too_large');
    expect(error.message).toContain('1 MiB limit');
  });

  it('reports a refused connection as a network failure', async () => {
    const stub = await startStub(echo);
    const { port } = stub;
    await stub.close();
    const error = await failure(egressOf().request({ url: `http://127.0.0.1:${port}/` }));
    expect(error.code).toBe('network');
    expect(error.message).toBe(`request to http://127.0.0.1:${port} failed: connect ECONNREFUSED 127.0.0.1:${port}`);
  });

  it('refuses calls once closed', async () => {
    const egress = egressOf();
    await egress.close();
    const error = await failure(egress.request({ url: 'http://127.0.0.1:9/' }));
    expect(error.code).toBe('aborted');
  });
});
