// Python transformations through the real pool: sandbox host processes that start Pyodide
// interpreters as processes of their own. Each version below serves several cases (chosen by the
// event), because every distinct version costs an interpreter (a few seconds to start on 2 cores).

import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { createRuntime, type RunInput } from '../../../src/runtime/index.js';
import { rejection, versionId } from './helpers.js';

const runtime = createRuntime({ processes: 1, limits: { cpuTimeMs: 1500, wallTimeMs: 4000, memoryMb: 64 }, python: { interpretersPerProcess: 4 } });
afterAll(() => runtime.close());

const SLOW = 120_000;

function python(code: string, events: unknown[], extra: Partial<RunInput> = {}, id = versionId('py')): RunInput {
  return { workspaceId: 'ws-python', transformation: { versionId: id, code, language: 'pythonfaas', name: 'myTransformation' }, libraries: [], events, ...extra };
}

/** Interpreter processes now alive whose parent is one of this runtime's sandbox hosts. */
function interpreterPids(hostPids = (runtime.stats().hosts?.processes ?? []).map((p) => p.pid)): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (hostPids.includes(parent) && cmdline.includes('interpreter.mjs') && cmdline.includes('--experimental-permission')) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

describe('Python: save-time checks compile without running', () => {
  it('reports the entry point and the library imports, not the standard library', async () => {
    const code = 'import json, re\nfrom financeLib import get_price\nimport util.helpers\nprint("never runs")\ndef transformEvent(event, metadata):\n    return event\n';
    expect(await runtime.analyze(code, 'transformation', 'pythonfaas')).toEqual({ ok: true, entry: 'transformEvent', imports: ['financeLib', 'util'] });
    expect(await runtime.analyze('def transformBatch(events, metadata):\n    return events\n', 'transformation', 'pythonfaas')).toMatchObject({ ok: true, entry: 'transformBatch' });
  }, SLOW);

  it('reports a syntax error with line and column', async () => {
    const analysis = await runtime.analyze('def transformEvent(event, metadata):\n    x = (1,\n    return event\n', 'transformation', 'pythonfaas');
    expect(analysis).toMatchObject({ ok: false, error: { code: 'compile_error', line: 2 } });
    if (!analysis.ok) expect(analysis.error.column).toBeGreaterThan(0);
  }, SLOW);

  it('requires exactly one entry point, and libraries import only the standard library', async () => {
    expect(await runtime.analyze('def helper(e):\n    return e\n', 'transformation', 'pythonfaas')).toMatchObject({ ok: false, error: { code: 'missing_entry_point' } });
    expect(await runtime.analyze('def transformEvent(e, m):\n    return e\ndef transformBatch(e, m):\n    return e\n', 'transformation', 'pythonfaas')).toMatchObject({
      ok: false,
      error: { code: 'multiple_entry_points' },
    });
    expect(await runtime.analyze('import json\ndef f():\n    return 1\n', 'library', 'pythonfaas')).toEqual({ ok: true, entry: null, imports: [] });
    expect(await runtime.analyze('import otherLib\n', 'library', 'pythonfaas')).toMatchObject({ ok: false, error: { code: 'library_imports_not_allowed' } });
  }, SLOW);
});

describe('Python: the code contract (spec 7.1)', () => {
  const contract = python(
    [
      'import json',
      'def transformEvent(event, metadata):',
      '    case = event.get("case")',
      '    if case == "keep":',
      '        event["seen"] = True',
      '        return event',
      '    if case == "fanout":',
      '        return [{"n": 1}, {"n": 2}]',
      '    if case == "drop":',
      '        return None',
      '    if case == "fail":',
      '        return helper(event)',
      '    if case == "meta":',
      '        log("source", metadata(event).get("sourceId"), {"k": 1})',
      '        print("printed")',
      '        return {"sourceId": metadata(event).get("sourceId"), "secret": getCredential("apiKey"), "missing": getCredential("nope")}',
      '    if case == "unicode":',
      '        return {"text": event["text"] + " \\u00e9\\U0001f600"}',
      '    if case == "recursion":',
      '        def deep(n):',
      '            return deep(n + 1)',
      '        return deep(0)',
      '    return event',
      '',
      'def helper(event):',
      '    raise ValueError("bad event " + str(event["id"]))',
      '',
    ].join('\n'),
    [],
  );
  const run = (events: unknown[], extra: Partial<RunInput> = {}) => runtime.run({ ...contract, events, ...extra });

  it('keeps a returned dict, fans out a list, drops None, fails one event with the user frames only', async () => {
    const out = await run([{ case: 'keep', a: 1 }, { case: 'fanout' }, { case: 'drop' }, { case: 'fail', id: 7 }, { case: 'other' }]);
    expect(out.dropped).toEqual([2]);
    expect(out.results.filter((r) => r.statusCode === 200)).toEqual([
      { index: 0, statusCode: 200, output: { case: 'keep', a: 1, seen: true } },
      { index: 1, statusCode: 200, output: { n: 1 } },
      { index: 1, statusCode: 200, output: { n: 2 } },
      { index: 4, statusCode: 200, output: { case: 'other' } },
    ]);
    const failed = out.results.find((r) => r.index === 3);
    expect(failed?.statusCode).toBe(400);
    const error = failed?.statusCode === 400 ? failed.error : '';
    expect(error).toContain('File "myTransformation", line 12, in transformEvent');
    expect(error).toContain('File "myTransformation", line 26, in helper');
    expect(error).toContain('ValueError: bad event 7');
    // Frames of Tiller's runner and of Pyodide never show.
    expect(error).not.toMatch(/tiller runner|_tiller_runner|pyodide|\.py"/);
  }, SLOW);

  it('gives metadata(event), log(), print() and getCredential()', async () => {
    const out = await run([{ case: 'meta' }], { metadata: [{ sourceId: 'src-1' }], credentials: { apiKey: 'k-123' } });
    expect(out.results).toEqual([{ index: 0, statusCode: 200, output: { sourceId: 'src-1', secret: 'k-123', missing: null } }]);
    expect(out.logs).toEqual(['source src-1 {"k": 1}', 'printed']);
  }, SLOW);

  it('keeps Unicode intact and fails a runaway recursion as one event', async () => {
    const out = await run([{ case: 'unicode', text: 'caf\u00e9 \ud83d\ude00' }, { case: 'recursion' }, { case: 'keep' }]);
    expect(out.results[0]).toEqual({ index: 0, statusCode: 200, output: { text: 'caf\u00e9 \ud83d\ude00 \u00e9\ud83d\ude00' } });
    expect(out.results[1]).toMatchObject({ index: 1, statusCode: 400, error: expect.stringContaining('RecursionError') });
    expect(out.results[2]).toMatchObject({ index: 2, statusCode: 200 });
  }, SLOW);

  it('reuses the warm interpreter for the next batch of the same version', async () => {
    await run([{ case: 'keep' }]);
    const again = await run([{ case: 'keep' }]);
    expect(again.coldStart).toBeUndefined();
  }, SLOW);

  it('runs transformBatch, and fails the whole batch when it raises', async () => {
    const code = [
      'def transformBatch(events, metadata):',
      '    if any(e.get("boom") for e in events):',
      '        raise RuntimeError("batch failed")',
      '    return [dict(e, total=len(events)) for e in events if not e.get("skip")]',
      '',
    ].join('\n');
    const id = versionId('py-batch');
    const out = await runtime.run(python(code, [{ a: 1 }, { skip: true }, { a: 3 }], {}, id));
    expect(out.results.map((r) => r.statusCode === 200 && r.output)).toEqual([
      { a: 1, total: 3 },
      { a: 3, total: 3 },
    ]);
    const error = await rejection(runtime.run(python(code, [{ boom: true }], {}, id)));
    expect(error).toMatchObject({ code: 'batch_error' });
    expect(error.message).toContain('RuntimeError: batch failed');
    expect(error.message).toContain('File "myTransformation", line 3, in transformBatch');
  }, SLOW);

  it('imports libraries by import name, both ways, and names a missing one', async () => {
    const finance = { versionId: versionId('py-lib'), importName: 'financeLib', code: 'RATE = 2\ndef get_price(amount):\n    return amount * RATE\n', name: 'Finance library' };
    const code = 'import financeLib\nfrom financeLib import get_price\ndef transformEvent(event, metadata):\n    return {"a": get_price(event["amount"]), "b": financeLib.RATE}\n';
    const out = await runtime.run(python(code, [{ amount: 21 }], { libraries: [finance] }));
    expect(out.results).toEqual([{ index: 0, statusCode: 200, output: { a: 42, b: 2 } }]);
    const missing = await rejection(runtime.run(python('import nowhere\ndef transformEvent(event, metadata):\n    return event\n', [{}])));
    expect(missing.code).toBe('code_error');
    expect(missing.message).toContain("No module named 'nowhere'");
  }, SLOW);

  it('fails a module whose top-level code raises, with its frames', async () => {
    const error = await rejection(runtime.run(python('x = 1\nraise KeyError("setup")\ndef transformEvent(event, metadata):\n    return event\n', [{}])));
    expect(error.code).toBe('code_error');
    expect(error.message).toContain('top-level code threw');
    expect(error.message).toContain('File "myTransformation", line 2');
  }, SLOW);
});

describe('Python: user code reaches nothing of the host', () => {
  const probes = python(
    [
      'import os, sys',
      'def transformEvent(event, metadata):',
      '    probe = event["probe"]',
      '    try:',
      '        if probe == "import js":',
      '            import js',
      '            return {"reached": str(js)}',
      '        if probe == "import pyodide_js":',
      '            import pyodide_js',
      '            return {"reached": str(pyodide_js)}',
      '        if probe == "ffi":',
      '            import pyodide.ffi',
      '            return {"reached": "pyodide.ffi"}',
      '        if probe == "function constructor":',
      '            finder = [m for m in sys.meta_path if type(m).__name__ == "JsFinder"][0]',
      '            module = finder.jsproxies["pyodide_js"]',
      '            return {"reached": str(module.constructor.constructor("return process")())}',
      '        if probe == "host file":',
      '            return {"reached": open("/etc/passwd").read()}',
      '        if probe == "listing":',
      '            return {"root": sorted(os.listdir("/"))}',
      '        if probe == "environment":',
      '            return {"env": dict(os.environ)}',
      '        if probe == "os.system":',
      '            return {"reached": os.system("id")}',
      '        if probe == "subprocess":',
      '            import subprocess',
      '            return {"reached": str(subprocess.run(["id"], capture_output=True))}',
      '        if probe == "socket":',
      '            import socket',
      '            s = socket.create_connection(("1.1.1.1", 80), timeout=1)',
      '            return {"reached": "connected"}',
      '        if probe == "ctypes":',
      '            import ctypes',
      '            return {"reached": "ctypes"}',
      '    except BaseException as error:',
      '        return {"blocked": type(error).__name__ + ": " + str(error)}',
      '',
    ].join('\n'),
    [],
  );
  const probe = async (name: string): Promise<Record<string, unknown>> => {
    const out = await runtime.run({ ...probes, events: [{ probe: name }] });
    const result = out.results[0];
    if (result?.statusCode !== 200) throw new Error(`probe ${name} failed: ${JSON.stringify(result)}`);
    return result.output;
  };

  it('cannot import the JavaScript side or ctypes', async () => {
    for (const name of ['import js', 'import pyodide_js', 'ffi', 'ctypes']) {
      expect(await probe(name), name).toEqual({ blocked: expect.stringMatching(/^(ImportError|ModuleNotFoundError)/) });
    }
  }, SLOW);

  it('cannot make JavaScript run code from strings through the FFI', async () => {
    expect(await probe('function constructor')).toEqual({ blocked: expect.stringContaining('Code generation from strings disallowed') });
  }, SLOW);

  it('sees an in-memory file system of its own and no host environment', async () => {
    expect(await probe('host file')).toEqual({ blocked: expect.stringMatching(/^FileNotFoundError/) });
    const { root } = (await probe('listing')) as { root: string[] };
    for (const hostDirectory of ['etc', 'usr', 'work', 'root', 'var']) expect(root).not.toContain(hostDirectory);
    const { env } = (await probe('environment')) as { env: Record<string, string> };
    for (const value of Object.values(env)) expect(value).not.toMatch(/\/work\/|\/root|\/usr\/bin|node/);
    for (const [key, value] of Object.entries(process.env)) if (key.startsWith('TILLER_') || key === 'DATABASE_URL') expect(env[key]).not.toBe(value);
  }, SLOW);

  it('cannot start processes or open sockets', async () => {
    expect(await probe('os.system')).toEqual({ blocked: expect.stringMatching(/^PermissionError/) });
    expect(await probe('subprocess')).toHaveProperty('blocked');
    expect(await probe('socket')).toEqual({ blocked: expect.stringMatching(/^OSError/) });
  }, SLOW);

  it('runs each interpreter as a process with no environment, under the permission model, in its own network namespace', async () => {
    await probe('listing');
    const pids = interpreterPids();
    expect(pids.length).toBeGreaterThan(0);
    const namespaces = spawnSync('unshare', ['--user', '--net', '--', 'true']).status === 0;
    for (const pid of pids) {
      expect(readFileSync(`/proc/${pid}/environ`, 'utf8')).toBe('');
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\u0000');
      expect(cmdline).toContain('--experimental-permission');
      expect(cmdline.some((arg) => arg.startsWith('--allow-fs-write') || arg.startsWith('--allow-child-process') || arg.startsWith('--allow-worker'))).toBe(false);
      const { readlinkSync } = await import('node:fs');
      if (namespaces) expect(readlinkSync(`/proc/${pid}/ns/net`)).not.toBe(readlinkSync('/proc/self/ns/net'));
    }
  }, SLOW);
});

describe('Python: limits, while another workspace keeps running JavaScript', () => {
  it('ends a CPU loop, a memory bomb and a sleeper with their limit codes; the JavaScript traffic all succeeds', async () => {
    const js = { workspaceId: 'ws-javascript', transformation: { versionId: versionId('js'), code: 'export function transformEvent(e) { e.ok = true; return e; }' }, libraries: [], events: [{ n: 1 }, { n: 2 }] };
    let stop = false;
    let jsBatches = 0;
    const jsFailures: unknown[] = [];
    const traffic = (async () => {
      while (!stop) {
        try {
          const out = await runtime.run(js);
          if (out.results.length !== 2 || out.results.some((r) => r.statusCode !== 200)) jsFailures.push(out);
          jsBatches++;
        } catch (error) {
          jsFailures.push(error);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    try {
      // On a busy 2-core machine the loop may get less than its CPU allowance before the wall clock runs out.
      const cpu = await rejection(runtime.run(python('def transformEvent(event, metadata):\n    while True:\n        pass\n', [{}])));
      expect(['cpu_limit', 'wall_limit']).toContain(cpu.code);
      const memory = await rejection(runtime.run(python('def transformEvent(event, metadata):\n    chunks = []\n    while True:\n        chunks.append(bytearray(8 * 1024 * 1024))\n', [{}])));
      expect(memory.code).toBe('memory_limit');
      const sleeper = await rejection(runtime.run(python('import time\ndef transformEvent(event, metadata):\n    time.sleep(30)\n    return event\n', [{}])));
      expect(['wall_limit', 'cpu_limit']).toContain(sleeper.code);
      // The host survived all three: the next Python batch runs.
      const after = await runtime.run(python('def transformEvent(event, metadata):\n    return {"after": True}\n', [{}]));
      expect(after.results).toEqual([{ index: 0, statusCode: 200, output: { after: true } }]);
    } finally {
      stop = true;
      await traffic;
    }
    expect(jsFailures).toEqual([]);
    expect(jsBatches).toBeGreaterThan(10);
    expect(runtime.stats().hosts?.restarts.crash).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1200)); // the host's next report
    const kills = runtime.stats().limitKills;
    expect(kills.cpu + kills.wall).toBeGreaterThanOrEqual(2);
    expect(kills.memory).toBeGreaterThanOrEqual(1);
  }, 240_000);
});

describe('Python: interpreters never outlive their sandbox host', () => {
  it('ends every interpreter of a host SIGKILLed from outside, and the replacement host runs Python again', async () => {
    const code = 'def transformEvent(event, metadata):\n    return {"alive": True}\n';
    await runtime.run(python(code, [{}]));
    const host = runtime.stats().hosts?.processes[0];
    expect(host).toBeDefined();
    const before = interpreterPids([host!.pid]);
    expect(before.length).toBeGreaterThan(0);
    process.kill(host!.pid, 'SIGKILL');
    // Orphans would be re-parented, so they are looked for by pid, whatever their parent now.
    const alive = () => before.filter((pid) => {
      try {
        return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
      } catch {
        return false;
      }
    });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && alive().length > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(alive()).toEqual([]);
    // The pool may hear of the host's end after its children died: wait for the replacement.
    while (Date.now() < deadline + 30_000 && !runtime.stats().hosts?.processes.some((p) => p.pid !== host!.pid && p.state === 'ready')) await new Promise((resolve) => setTimeout(resolve, 100));
    const again = await runtime.run(python(code, [{}]));
    expect(again.results).toEqual([{ index: 0, statusCode: 200, output: { alive: true } }]);
  }, SLOW);
});
