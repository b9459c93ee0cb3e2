import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Actor } from '../../../src/domain/audit.js';
import type { CatalogContext } from '../../../src/domain/code-checks.js';
import { createWorkspace } from '../../../src/domain/workspaces.js';
import { afterEach, beforeEach } from 'vitest';
import { RunError, type CodeAnalysis, type RunInput, type RunOutput, type Runtime, type RuntimeLanguage } from '../../../src/runtime/types.js';
import { openStore, type Store } from '../../../src/store/db.js';

// Domain tests run the rules on a real SQLite store in a temporary directory and a scripted
// runtime instead of the sandbox: code that contains FAIL fails each event, THROW fails the whole
// batch, anything else returns its events tagged with the version that ran them.

export const actor: Actor = { type: 'access_token', id: 'token-1' };

/** The runtime double: records every run; imports are `import ... from "name"` specifiers. */
export class ScriptedRuntime implements Pick<Runtime, 'analyze' | 'run'> {
  readonly runs: RunInput[] = [];
  /** Every analyze call, with the language it was asked for. */
  readonly analyses: { code: string; kind: 'transformation' | 'library'; language: RuntimeLanguage | undefined }[] = [];
  failWith: RunError | undefined;

  analyze(code: string, kind: 'transformation' | 'library', language?: RuntimeLanguage): CodeAnalysis {
    this.analyses.push({ code, kind, language });
    const imports = [...code.matchAll(/from\s*["']([^"']+)["']/g)].map((match) => match[1]!);
    return { ok: true, entry: kind === 'transformation' ? 'transformEvent' : null, imports: [...new Set(imports)] };
  }

  async run(input: RunInput): Promise<RunOutput> {
    this.runs.push(input);
    if (this.failWith) throw this.failWith;
    const code = input.transformation.code;
    if (code.includes('THROW')) throw new RunError('code_error', 'transformBatch threw', ['a log line']);
    return {
      results: input.events.map((event, index) =>
        code.includes('FAIL') ? { index, statusCode: 400 as const, error: 'the code refused it' } : { index, statusCode: 200 as const, output: { ...(event as object), ranBy: input.transformation.versionId } },
      ),
      dropped: [],
      logs: [],
    };
  }
}

export interface DomainFixture {
  store: Store;
  runtime: ScriptedRuntime;
  ctx: CatalogContext;
  workspaceId: string;
  close(): Promise<void>;
}

export async function openFixture(): Promise<DomainFixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tiller-domain-'));
  const store = await openStore({ dataDir });
  await store.migrate();
  const runtime = new ScriptedRuntime();
  const ctx: CatalogContext = { store, runtime: runtime as unknown as Runtime, maxCodeBytes: 1024 * 1024 };
  const { workspace } = await createWorkspace(store, Buffer.alloc(32, 1), { name: 'domain tests', ownerEmail: 'owner@example.com' });
  return {
    store,
    runtime,
    ctx,
    workspaceId: workspace.id,
    close: async () => {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Opens a fresh fixture before each test of the calling suite and closes it after; read `.current`. */
export function useFixture(): { current: DomainFixture } {
  const holder = {} as { current: DomainFixture };
  beforeEach(async () => {
    holder.current = await openFixture();
  });
  afterEach(async () => {
    await holder.current.close();
  });
  return holder;
}
