// Small helpers the runtime benchmark's parts share (run.ts, memory.ts, attack.ts).

import { wireEvent } from '../../test/helpers/fixtures.js';

/** Events per /customTransform request in every throughput measurement. */
export const BATCH = 200;

/** A /customTransform body: `events` wire entries, all naming one version (and library version). */
export function batchBody(versionId: string, libraryVersionId?: string, events = BATCH): string {
  const entries = Array.from({ length: events }, (_, n) => wireEvent(n, { versionId, ...(libraryVersionId ? { libraries: [libraryVersionId] } : {}) }));
  return JSON.stringify(entries);
}

export async function post(url: string, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, text: await res.text() };
}

/** The value of one series on the server's /metrics, e.g. `tiller_runtime_isolates` or `name{label="x"}`. */
export async function metricValue(url: string, series: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export const fmt = (value: number, digits = 0): string => value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export const metOrNot = (met: boolean): string => (met ? '(met)' : '(NOT met)');
