// One Python interpreter (Pyodide) in a process of its own, started by the Python sandbox host
// (python/host.ts) with Node's permission model: it may read only Pyodide's files and this folder,
// write nothing, start no process, and (where the host could make one) it lives in a network
// namespace of its own. User code reaches the JavaScript side through Pyodide's FFI however Python
// is locked down (Pyodide's `pyodide_js` and its module loader cannot be hidden from a determined
// module), so the protection is what the process itself cannot do, not what Python cannot name.
//
// Plain JavaScript, not TypeScript: the process must start without a TypeScript loader (tsx runs
// esbuild as a child process, which the permission model forbids).
//
// Protocol: one JSON object per line, on stdin from the host and stdout to it, read and written
// synchronously: after Pyodide has loaded, this process has no event loop work at all, so a batch
// that calls fetch() can block on the host's answer in the middle of Python code.
//
//   host -> here: {t:'load', spec} | {t:'run', eventsJson, metadataJson, captureLogs, credentialsJson}
//                 | {t:'analyze', code, kind} | {t:'answer', body}   (the answer to a call)
//   here -> host: {t:'ready', memoryBytes} | {t:'loaded', error?} | {t:'ran', encoded, memoryLimit?}
//                 | {t:'analyzed', analysis} | {t:'call', op, request} | {t:'fatal', message}

import { constants as fsConstants, readFileSync, readSync, writeSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import { StringDecoder } from 'node:string_decoder';
import { fileURLToPath } from 'node:url';

const config = JSON.parse(process.argv[2] ?? '{}');
const proc = process;
const WASM_PAGE = 65536;

// --- memory: Pyodide's heap is one WebAssembly.Memory that Emscripten grows from JavaScript ---
// Growth past the cap fails, which Python reports as MemoryError; the host then ends the batch
// with memory_limit and discards this interpreter (a wasm memory never shrinks).
let memoryCapBytes = Infinity;
let memoryLimitHit = false;
const realGrow = WebAssembly.Memory.prototype.grow;
// Pyodide's heap is the only WebAssembly memory in this process.
WebAssembly.Memory.prototype.grow = function grow(pages) {
  if (this.buffer.byteLength + pages * WASM_PAGE > memoryCapBytes) {
    memoryLimitHit = true;
    throw new RangeError('memory limit');
  }
  return Reflect.apply(realGrow, this, [pages]);
};

// --- the line protocol ---
const input = Buffer.alloc(1 << 16);
const decoder = new StringDecoder('utf8');
let pending = '';
const waitCell = new Int32Array(new SharedArrayBuffer(4));

function readMessage() {
  for (;;) {
    const newline = pending.indexOf('\n');
    if (newline >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      return JSON.parse(line);
    }
    let count;
    try {
      count = readSync(0, input, 0, input.length, null);
    } catch (error) {
      if (error.code === 'EAGAIN') {
        Atomics.wait(waitCell, 0, 0, 1);
        continue;
      }
      throw error;
    }
    if (count === 0) proc.exit(0); // the host closed the pipe: it is gone or done with us
    pending += decoder.write(input.subarray(0, count));
  }
}

function send(message) {
  const bytes = Buffer.from(`${JSON.stringify(message)}\n`, 'utf8');
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(1, bytes, offset, bytes.length - offset);
    } catch (error) {
      if (error.code !== 'EAGAIN') throw error;
      Atomics.wait(waitCell, 0, 0, 1);
    }
  }
}

// A capability call from Python (fetch, fetchV2, geolocation): the host makes it and answers with
// one JSON string. Python waits; the host counts the wait toward the wall-clock limit only.
function hostCall(op, requestJson) {
  send({ t: 'call', op: String(op), request: String(requestJson) });
  const message = readMessage();
  if (message.t !== 'answer') throw new Error('the host answered out of turn');
  return message.body;
}

// Emscripten's NODEFS reads file flags through process.binding('constants'), which the permission
// model refuses; the same numbers are public in node:fs.
const binding = proc.binding;
proc.binding = (name) => (name === 'constants' ? { fs: fsConstants } : Reflect.apply(binding, proc, [name]));

const here = fileURLToPath(new URL('.', import.meta.url));
const runnerSource = readFileSync(`${here}runner.py`, 'utf8');
const { loadPyodide } = await import(config.pyodideModule);

// Pyodide's `js` module is its jsglobals: an empty frozen object here, never this process's globals.
const jsglobals = Object.freeze(Object.create(null));
const pyodide = await loadPyodide({
  indexURL: config.pyodideDir,
  jsglobals,
  env: { HOME: '/home/pyodide' },
  args: [],
  stdout: () => undefined,
  stderr: () => undefined,
  checkAPIVersion: true,
  // sys.executable would otherwise be this process's own path on the host.
  _sysExecutable: 'python',
});

// What the FFI could reach that a transformation has no use for: Node's file system behind
// Emscripten's NODEFS, and the globals Pyodide's loader installed (its own `require` hands out fs,
// child_process and ws). The permission model forbids what these would do anyway; this removes
// the handles too. `performance` (time.sleep, time.monotonic) and `crypto` (os.urandom, uuid4,
// secrets) stay: Python's standard library needs them.
delete pyodide._module.FS.filesystems.NODEFS;
pyodide.mountNodeFS = undefined;
for (const name of ['require', 'process', 'fetch', 'WebSocket', 'Buffer', 'setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask', 'structuredClone', 'BroadcastChannel', 'MessageChannel', 'Worker', 'navigator']) {
  try {
    delete globalThis[name];
  } catch {
    // A non-configurable global stays; the permission model still bounds what it can do.
  }
}

pyodide.globals.set('__tiller_runner_source', runnerSource);
pyodide.runPython(`
import sys, types
__m = types.ModuleType('_tiller_runner')
exec(compile(__tiller_runner_source, '<tiller runner>', 'exec'), __m.__dict__)
sys.modules['_tiller_runner'] = __m
del __m, __tiller_runner_source

# A first layer only (see the top of interpreter.mjs): names user code should not find.
import os, posix
def __refuse(*args, **kwargs):
    raise PermissionError('not available in a Tiller transformation')
for __module in (os, posix):
    for __name in ('system', 'popen', 'execv', 'execve', 'spawnv', 'fork', 'kill'):
        if hasattr(__module, __name):
            setattr(__module, __name, __refuse)
os.environ.pop('_', None)
del __module
for __name in ('js', 'pyodide_js', '_pyodide_core'):
    sys.modules.pop(__name, None)
del __name, __refuse
`);
const runner = pyodide.pyimport('_tiller_runner');
runner.configure(JSON.stringify(config.runner ?? {}), hostCall);
pyodide.runPython(`
import sys
class __Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('js', 'pyodide_js', '_pyodide_core', 'pyodide', '_pyodide', 'micropip', 'ctypes', '_ctypes'):
            raise ImportError(f'module {name!r} is not available in a Tiller transformation')
        return None
sys.meta_path.insert(0, __Blocked())
for __name in list(sys.modules):
    if __name.split('.')[0] in ('js', 'pyodide_js', 'micropip', 'pyodide', '_pyodide'):
        del sys.modules[__name]
del __Blocked, __name
`);

const emscripten = pyodide._module;
const memoryBytes = () => emscripten.HEAPU8.byteLength;
send({ t: 'ready', memoryBytes: memoryBytes() });

const load = runner.load;
const run = runner.run;
const analyze = runner.analyze;
for (;;) {
  const message = readMessage();
  try {
    if (message.t === 'load') {
      memoryCapBytes = memoryBytes() + config.memoryMb * 1024 * 1024;
      const error = load(message.spec);
      send(error ? { t: 'loaded', error: JSON.parse(error), memoryBytes: memoryBytes() } : { t: 'loaded', memoryBytes: memoryBytes() });
    } else if (message.t === 'run') {
      memoryLimitHit = false;
      const encoded = run(message.eventsJson, message.metadataJson, message.captureLogs === true, message.credentialsJson);
      send({ t: 'ran', encoded, memoryBytes: memoryBytes(), ...(memoryLimitHit ? { memoryLimit: true } : {}) });
    } else if (message.t === 'analyze') {
      send({ t: 'analyzed', analysis: JSON.parse(analyze(message.code, message.kind)) });
    } else {
      send({ t: 'fatal', message: `unexpected message ${String(message.t)}` });
      proc.exit(1);
    }
  } catch (error) {
    // Pyodide itself failed (a JavaScript error under Python, a fatal error): this interpreter is done.
    send({ t: 'fatal', message: memoryLimitHit ? 'memory limit' : String(error?.message ?? error).slice(0, 500), ...(memoryLimitHit ? { memoryLimit: true } : {}) });
    proc.exit(1);
  }
}
