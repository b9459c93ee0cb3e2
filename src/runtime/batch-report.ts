// The BatchReport the metrics sink receives for every batch, built the same way by the pool and
// by an in-process engine. Kept apart from the engine so the server never loads isolated-vm.

import { RunError, type RunInput, type RunOutput, type RuntimeMetricsSink } from './types.js';

/** Tells the metrics sink about one finished batch; a failing sink never fails the batch. */
export function reportBatch(metrics: RuntimeMetricsSink, input: RunInput, eventsIn: number, durationMs: number, coldStart: boolean, output: RunOutput | undefined, failure: unknown): void {
  let eventsOut = 0;
  let failed = 0;
  if (output) for (const result of output.results) result.statusCode === 200 ? eventsOut++ : failed++;
  else failed = eventsIn;
  try {
    metrics.onBatch?.({
      workspaceId: String(input?.workspaceId ?? ''),
      versionId: String(input?.transformation?.versionId ?? ''),
      eventsIn,
      eventsOut,
      dropped: output ? output.dropped.length : 0,
      failed,
      durationMs,
      outcome: failure instanceof RunError ? failure.code : 'ok',
      coldStart,
    });
  } catch {
    // A failing metrics sink must not fail the batch.
  }
}
