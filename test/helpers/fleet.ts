import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

// HAProxy in front of several Tiller instances, for the fleet test: loopback only, health checks
// on /ready, and L7 retries so a request refused by a dead instance goes to a live one.

export const HAPROXY_PATH = process.env.TILLER_TEST_HAPROXY ?? '/usr/sbin/haproxy';
export const haproxyAvailable = (): boolean => existsSync(HAPROXY_PATH);

/** A TCP port free on 127.0.0.1 right now (listen on 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface Backend {
  name: string;
  port: number;
}

export interface RunningHaproxy {
  child: ChildProcess;
  url: string;
  statsUrl: string;
  output(): string;
  /** Each backend server's status as HAProxy's stats page shows it (UP, DOWN, "UP 1/2", ...). */
  serverStatus(): Promise<Record<string, string>>;
  /** The backend's retry (wretr) and redispatch (wredis) counters: requests HAProxy sent elsewhere. */
  backendCounters(): Promise<{ retries: number; redispatches: number }>;
  /** Polls the stats page until `name` is UP (all rise checks passed). */
  waitUntil(name: string, state: 'UP' | 'DOWN', timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function haproxyConfig(frontendPort: number, statsPort: number, backends: Backend[]): string {
  return [
    'global',
    '  maxconn 1024',
    '',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 30s',
    '  timeout server 20s',
    '  timeout http-keep-alive 5s',
    '  retries 2',
    '  option redispatch',
    '  retry-on conn-failure empty-response response-timeout',
    '',
    'frontend fleet',
    `  bind 127.0.0.1:${frontendPort}`,
    '  default_backend tiller',
    '',
    'frontend stats',
    `  bind 127.0.0.1:${statsPort}`,
    '  stats enable',
    '  stats uri /stats',
    '  stats refresh 1s',
    '',
    'backend tiller',
    '  balance roundrobin',
    '  option httpchk GET /ready',
    '  http-check expect status 200',
    '  default-server inter 250ms fall 1 rise 2',
    ...backends.map((b) => `  server ${b.name} 127.0.0.1:${b.port} check`),
    '',
  ].join('\n');
}

/** Writes haproxy.cfg into `dir` and runs HAProxy in the foreground (-db); resolves once it answers. */
export async function startHaproxy(dir: string, backends: Backend[]): Promise<RunningHaproxy> {
  const frontendPort = await freePort();
  const statsPort = await freePort();
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, haproxyConfig(frontendPort, statsPort, backends));
  const child = spawn(HAPROXY_PATH, ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const statsUrl = `http://127.0.0.1:${statsPort}/stats`;

  /** The stats page's CSV rows of the tiller backend, each as { column: value }. */
  const rows = async (): Promise<Record<string, string>[]> => {
    const res = await fetch(`${statsUrl};csv`, { signal: AbortSignal.timeout(2000) });
    const lines = (await res.text()).trim().split('\n');
    const header = lines[0]!.replace(/^# /, '').split(',');
    return lines
      .slice(1)
      .map((line) => Object.fromEntries(line.split(',').map((cell, i) => [header[i] ?? String(i), cell])))
      .filter((row) => row.pxname === 'tiller');
  };
  const serverStatus = async (): Promise<Record<string, string>> => {
    const status: Record<string, string> = {};
    for (const row of await rows()) if (row.svname !== 'BACKEND') status[row.svname!] = row.status!;
    return status;
  };
  const backendCounters = async () => {
    const backend = (await rows()).find((row) => row.svname === 'BACKEND');
    return { retries: Number(backend?.wretr ?? 0), redispatches: Number(backend?.wredis ?? 0) };
  };

  const running: RunningHaproxy = {
    child,
    url: `http://127.0.0.1:${frontendPort}`,
    statsUrl,
    output: () => out,
    serverStatus,
    backendCounters,
    waitUntil: async (name, state, timeoutMs = 60_000) => {
      const until = Date.now() + timeoutMs;
      let last = '';
      while (Date.now() < until) {
        try {
          last = (await serverStatus())[name] ?? '';
          if (last === state) return;
        } catch (err) {
          last = String(err);
        }
        await sleep(50);
      }
      throw new Error(`HAProxy did not see ${name} ${state} within ${timeoutMs} ms (last: ${last}); haproxy output: ${out}`);
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
    },
  };

  const until = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}: ${out}`);
    try {
      await serverStatus();
      return running;
    } catch (err) {
      if (Date.now() > until) {
        await running.stop();
        throw new Error(`haproxy's stats page did not answer: ${String(err)}; output: ${out}`);
      }
      await sleep(50);
    }
  }
}
