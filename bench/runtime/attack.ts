// Attack part: what another workspace's crashing code costs a victim's traffic. A victim sends
// 200-event batches of a trivial transformEvent, 4 in flight, for BENCH_SECONDS alone, then the
// same again while an attacker sends a memory bomb once a second; each repetition runs the two
// back to back, so their ratio pairs neighbours. The bomb (one allocation larger than an isolate's
// heap) kills the sandbox host process that runs it, and a version that crashed one is quarantined
// and never runs again, so every bomb is a distinct version never run before (server.ts creates
// them in a second workspace).
//
// The victim load is a closed loop of fetch calls rather than autocannon: every answer is counted
// by what it was (200, 503 and its reason, timeout, ...), which autocannon does not report.

import type { ChildProcess } from 'node:child_process';
import type { BenchServerInfo } from './server.js';
import { BATCH, batchBody, fmt, median, metOrNot, metricValue } from './common.js';
import { runtimeQuiet } from './memory.js';

const IN_FLIGHT = 4;
const BOMB_INTERVAL_MS = 1000;
/** A victim request unanswered this long is a timeout (the batch wall limit and the queue timeout are 10 s each). */
const VICTIM_TIMEOUT_MS = 15_000;
/** A bomb takes seconds to kill its host (V8 collects garbage at the heap limit first) and may queue behind others: wait longer for its answer. */
const BOMB_TIMEOUT_MS = 60_000;
const CRASH_RESTARTS = 'tiller_sandbox_process_restarts{reason="crash"}';
// A bomb can push a host past TILLER_SANDBOX_PROCESS_MAX_RSS_MB before it dies: the pool then counts
// that host's replacement as a memory restart, not a crash (its slot already holds the replacement).
const MEMORY_RESTARTS = 'tiller_sandbox_process_restarts{reason="memory"}';

export const TARGET_ATTACK_RATIO = 0.8;
export const TARGET_SUCCESS_RATE = 0.999;

/** Bombs one benchmark run uses: one per attacked second per repetition, plus a spare per repetition. */
export const bombsNeeded = (seconds: number, reps: number): number => reps * (Math.ceil((seconds * 1000) / BOMB_INTERVAL_MS) + 1);

/** Answers by kind: 'ok', or what went wrong ('503 sandbox_lost, retryable', 'timeout', ...). */
type Counts = Map<string, number>;

const count = (counts: Counts, outcome: string) => counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
const describeCounts = (counts: Counts): string =>
  [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([outcome, n]) => `${outcome} x${n}`)
    .join(', ');

/** What one /customTransform request came to. A 200 only counts as 'ok' when no event in it failed. */
async function attempt(url: string, body: string, timeoutMs: number): Promise<string> {
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    // A version quarantined by mistake would answer 200 with per-event 400 entries: not a success.
    if (res.status === 200) return text.includes('"statusCode":4') ? '200 with failed events' : 'ok';
    const reason = res.headers.get('x-rudder-error-reason');
    const retryable = res.headers.get('x-rudder-should-retry') === 'true';
    return `${res.status}${reason ? ` ${reason}` : ''}${retryable ? ', retryable' : ''}`;
  } catch (error) {
    return error instanceof Error && error.name === 'TimeoutError' ? 'timeout' : 'network error';
  }
}

interface VictimRun {
  attemptedEvents: number;
  okEvents: number;
  seconds: number;
  counts: Counts;
}

const okEventsPerSecond = (run: VictimRun) => run.okEvents / run.seconds;
const successRate = (run: VictimRun) => (run.attemptedEvents === 0 ? 0 : run.okEvents / run.attemptedEvents);

/** `IN_FLIGHT` workers, each sending the next request when its last one is answered, for `seconds`. */
async function victimLoad(url: string, body: string, seconds: number): Promise<VictimRun> {
  const run: VictimRun = { attemptedEvents: 0, okEvents: 0, seconds: 0, counts: new Map() };
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const outcome = await attempt(url, body, VICTIM_TIMEOUT_MS);
      count(run.counts, outcome);
      run.attemptedEvents += BATCH;
      if (outcome === 'ok') run.okEvents += BATCH;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  // Until the last answer: requests that ran past the deadline count, and so does their time.
  run.seconds = (performance.now() - started) / 1000;
  return run;
}

/** Sends one unused bomb now and then every second, each on its own without awaiting the others. */
function startAttacker(url: string, bombs: string[], next: { index: number }): { stop: () => Promise<{ sent: number; counts: Counts; ranOut: boolean }> } {
  const counts: Counts = new Map();
  const answers: Array<Promise<void>> = [];
  let ranOut = false;
  const fire = () => {
    const bomb = bombs[next.index];
    if (!bomb) {
      ranOut = true;
      return;
    }
    next.index++;
    answers.push(attempt(url, bomb, BOMB_TIMEOUT_MS).then((outcome) => void count(counts, outcome)));
  };
  fire();
  const timer = setInterval(fire, BOMB_INTERVAL_MS);
  return {
    stop: async () => {
      clearInterval(timer);
      await Promise.all(answers);
      return { sent: answers.length, counts, ranOut };
    },
  };
}

interface AttackRep {
  /** Whether the runtime was idle, with every host up, when the baseline started. */
  quiet: boolean;
  calm: VictimRun;
  /** Host crashes during the run without attack (expected 0). */
  calmCrashes: number;
  attacked: VictimRun;
  ratio: number;
  bombs: { sent: number; counts: Counts; ranOut: boolean };
  /** Host replacements during the attacked run, from /metrics: crashes, and hosts that passed their memory bound. */
  crashes: number;
  memoryRestarts: number;
}

/** Runs the part, printing a line per repetition as it goes, and returns the summary table and goal lines. */
export async function attackPart(info: BenchServerInfo, child: ChildProcess, settings: { seconds: number; warmup: number; reps: number }): Promise<string[]> {
  const url = `${info.url}/customTransform`;
  const victimBody = batchBody(info.scenarioVersions.trivial!);
  const bombs = info.attackVersions.map((versionId) => batchBody(versionId, undefined, 1));
  const next = { index: 0 };
  const reps: AttackRep[] = [];

  for (let rep = 0; rep < settings.reps; rep++) {
    // The baseline starts once the hosts the last repetition's bombs killed are replaced and no bomb still runs.
    const quiet = await runtimeQuiet(child);
    if (settings.warmup > 0) await victimLoad(url, victimBody, settings.warmup);
    const crashesAtStart = await metricValue(info.metricsUrl, CRASH_RESTARTS);
    const calm = await victimLoad(url, victimBody, settings.seconds);

    const crashesBefore = await metricValue(info.metricsUrl, CRASH_RESTARTS);
    const memoryRestartsBefore = await metricValue(info.metricsUrl, MEMORY_RESTARTS);
    const attacker = startAttacker(url, bombs, next);
    const attacked = await victimLoad(url, victimBody, settings.seconds);
    const bombsOutcome = await attacker.stop();
    const crashes = (await metricValue(info.metricsUrl, CRASH_RESTARTS)) - crashesBefore;
    const memoryRestarts = (await metricValue(info.metricsUrl, MEMORY_RESTARTS)) - memoryRestartsBefore;

    const row: AttackRep = {
      quiet,
      calm,
      calmCrashes: crashesBefore - crashesAtStart,
      attacked,
      ratio: okEventsPerSecond(attacked) / okEventsPerSecond(calm),
      bombs: bombsOutcome,
      crashes,
      memoryRestarts,
    };
    reps.push(row);
    process.stdout.write(
      `  rep ${rep + 1}${quiet ? '' : ' (batches still running at its start)'}: without attack ${fmt(okEventsPerSecond(calm))} ev/s (${describeCounts(calm.counts)}); ` +
        `with attack ${fmt(okEventsPerSecond(attacked))} ev/s, ratio ${fmt(row.ratio, 2)}, success ${fmt(successRate(attacked) * 100, 2)}% (${describeCounts(attacked.counts)}); ` +
        `${bombsOutcome.sent} bombs (${describeCounts(bombsOutcome.counts)}${bombsOutcome.ranOut ? '; ran out of attacker versions' : ''}), ${crashes} host crashes, ${memoryRestarts} hosts replaced for memory\n`,
    );
  }

  const calmRate = median(reps.map((r) => okEventsPerSecond(r.calm)));
  const attackedRate = median(reps.map((r) => okEventsPerSecond(r.attacked)));
  const ratio = median(reps.map((r) => r.ratio));
  const success = median(reps.map((r) => successRate(r.attacked)));
  const calmSuccess = median(reps.map((r) => successRate(r.calm)));
  const crashes = median(reps.map((r) => r.crashes));
  const memoryRestarts = median(reps.map((r) => r.memoryRestarts));
  const bombsSent = median(reps.map((r) => r.bombs.sent));
  return [
    `| victim (trivial transformEvent, ${IN_FLIGHT} in flight) | events/s (successful) | success rate | host crashes | hosts replaced for memory | bombs sent |`,
    '|---|---:|---:|---:|---:|---:|',
    `| without attack | ${fmt(calmRate)} | ${fmt(calmSuccess * 100, 3)}% | ${fmt(median(reps.map((r) => r.calmCrashes)))} | - | 0 |`,
    `| with a bomb every second | ${fmt(attackedRate)} | ${fmt(success * 100, 3)}% | ${fmt(crashes)} | ${fmt(memoryRestarts)} | ${fmt(bombsSent)} |`,
    '',
    `Goal: victim events/s with attack >= ${TARGET_ATTACK_RATIO} of without: ${fmt(ratio, 2)} (runs ${reps.map((r) => fmt(r.ratio, 2)).join(', ')}) ${metOrNot(ratio >= TARGET_ATTACK_RATIO)}`,
    `Goal: victim success rate with attack >= ${fmt(TARGET_SUCCESS_RATE * 100, 1)}%: ${fmt(success * 100, 3)}% (runs ${reps.map((r) => `${fmt(successRate(r.attacked) * 100, 2)}%`).join(', ')}) ${metOrNot(success >= TARGET_SUCCESS_RATE)}`,
    `Host crashes during the attacked runs (tiller_sandbox_process_restarts{reason="crash"} after minus before): ${reps.map((r) => r.crashes).join(', ')} (median ${fmt(crashes)}); ` +
      `hosts replaced for memory (reason="memory"): ${reps.map((r) => r.memoryRestarts).join(', ')}`,
  ];
}
