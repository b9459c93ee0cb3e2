import { PassThrough } from 'node:stream';

// Watching what a running server does off the request's path: writes that land a moment later
// (last use, failure audits) and what it logs.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` passes or `timeoutMs` passes; answers the last value either way. */
export async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 3000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let value = await read();
  while (!check(value) && Date.now() < until) {
    await sleep(50);
    value = await read();
  }
  return value;
}

/** A log stream for startTestServer's `logStream`, and everything written to it so far. */
export function captureLog(): { stream: PassThrough; text(): string } {
  let text = '';
  const stream = new PassThrough();
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => (text += chunk));
  return { stream, text: () => text };
}
