import type { LibrarySource, RunInput } from '../../../src/runtime/index.js';

let counter = 0;

/** A fresh version id, so each test compiles its own code. */
export function versionId(prefix = 'v'): string {
  counter++;
  return `${prefix}-${process.pid}-${counter}`;
}

export function input(code: string, events: unknown[], extra: Partial<RunInput> = {}): RunInput {
  return {
    workspaceId: 'ws-test',
    transformation: { versionId: versionId(), code },
    libraries: [],
    events,
    ...extra,
  };
}

export function library(importName: string, code: string): LibrarySource {
  return { versionId: versionId('lib'), importName, code };
}

/** Settles `promise` and returns the rejection (failing the test if it resolved). */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string; logs?: string[] }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string; logs?: string[] };
  }
  throw new Error('expected the promise to reject');
}
