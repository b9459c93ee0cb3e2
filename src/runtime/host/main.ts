// A sandbox host process: the only kind of Tiller process that creates isolates. The server's pool
// (pool.ts) starts several, sends each batch as one message and reads one answer back. The host
// trusts its parent and nothing else: it gets no database address, no pepper and no secrets
// (pool.ts gives it a bare environment), and it never outlives the server.

import { writeSync } from 'node:fs';
import { LAST_WORDS_FD, type FromHost, type HostReport, type LastWords, type ToHost } from '../protocol.js';
import { RunError, type RuntimeOptions } from '../types.js';
import { createPythonEngine, type PythonEngine } from '../python/engine.js';
import { engineSettingsOf } from '../options.js';
import { createIsolateEngine } from './engine.js';

const REPORT_INTERVAL_MS = 1000;

const settings = JSON.parse(process.argv[2] ?? '{}') as RuntimeOptions;
const parentPid = process.ppid;

/** Ends this process at once: nothing in it can be trusted to shut down cleanly any more. */
function die(): never {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

const engine = createIsolateEngine(settings, {
  // V8 lost control of an isolate (say one allocation larger than its whole heap). isolated-vm's
  // guidance is to end the process; disposing the isolate would hang. The pool fails this host's
  // batches, quarantines the one named here and starts a replacement.
  onCatastrophicError: (message, runTag) => {
    const words: LastWords = { message, ...(runTag !== undefined ? { runTag } : {}) };
    try {
      writeSync(LAST_WORDS_FD, `${JSON.stringify(words)}\n`);
    } catch {
      // No pipe to write to (started by hand): the pool then treats the cause as unknown.
    }
    die();
  },
});

// Python interpreters are processes of their own, started only once a Python batch or check arrives.
let python: PythonEngine | undefined;
const pythonEngine = (): PythonEngine => (python ??= createPythonEngine(engineSettingsOf(settings), engine.capabilities));

const send = (message: FromHost): void => {
  if (!process.connected) return;
  try {
    process.send!(message);
  } catch {
    // The channel closed under us; 'disconnect' ends the process.
  }
};

/**
 * Every batch leaves its IPC buffers behind as external memory, which V8 collects only when a lot has
 * piled up (hundreds of MB at full load). The host is started with --expose-gc to collect sooner.
 */
const HOST_EXTERNAL_COLLECT_BYTES = 32 * 1024 * 1024;
const collectGarbage = (globalThis as { gc?: () => void }).gc;

const report = (): HostReport => {
  const memory = process.memoryUsage();
  if (collectGarbage && memory.external - engine.residentBytes() > HOST_EXTERNAL_COLLECT_BYTES) collectGarbage();
  const stats = engine.stats();
  if (python) {
    const own = python.stats();
    stats.pythonInterpreters = own.interpreters;
    stats.pythonRssBytes = own.rssBytes;
    stats.busyIsolates += own.busy;
    stats.cacheMisses += own.coldLoads;
    stats.limitKills.cpu += own.limitKills.cpu;
    stats.limitKills.wall += own.limitKills.wall;
    stats.limitKills.memory += own.limitKills.memory;
  }
  return { engine: stats, rssBytes: memory.rss, heapTotalBytes: memory.heapTotal, externalBytes: memory.external };
};

const wireError = (error: unknown) =>
  error instanceof RunError ? { code: error.code, message: error.message, logs: error.logs } : { code: 'code_error', message: error instanceof Error ? error.message : String(error), logs: [] };

let closing = false;

process.on('message', (message: ToHost) => {
  switch (message.t) {
    case 'run': {
      const { id, batch } = message;
      const running = batch.transformation.language === 'pythonfaas' ? pythonEngine().runEncoded(batch) : engine.runEncoded({ ...batch, runTag: String(id) });
      running.then(
        (answer) => send({ t: 'ran', id, answer, report: report() }),
        (error: unknown) => send({ t: 'failed', id, error: wireError(error), report: report() }),
      );
      return;
    }
    case 'analyze': {
      const { id } = message;
      const analysis = message.language === 'pythonfaas' ? pythonEngine().analyze(message.code, message.kind) : engine.analyze(message.code, message.kind);
      Promise.resolve(analysis).then(
        (analysis) => send({ t: 'analyzed', id, analysis }),
        (error: unknown) => send({ t: 'analyzeFailed', id, error: wireError(error) }),
      );
      return;
    }
    case 'close':
      closing = true;
      void Promise.all([engine.close(), python?.close()]).finally(() => process.exit(0));
      return;
  }
});

// The server is gone (it closed the channel, or it was killed and the kernel closed it): a host
// never outlives its server. A polite 'close' exits on its own; anything else ends at once.
process.on('disconnect', () => {
  if (!closing) die();
});
const orphanCheck = setInterval(() => {
  if (process.ppid !== parentPid) die();
}, REPORT_INTERVAL_MS);
const reporter = setInterval(() => send({ t: 'report', report: report() }), REPORT_INTERVAL_MS);
orphanCheck.unref();
reporter.unref();

send({ t: 'ready', report: report() });
