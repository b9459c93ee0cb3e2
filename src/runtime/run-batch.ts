// One batch from RunInput to RunOutput, the same for the pool (the batch goes to a sandbox host
// process) and for an engine in the caller's process: check and serialize the input, hand it to
// `send`, check and decode the encoded answer, and tell the metrics sink. Kept apart from the
// engine so the server never loads isolated-vm.

import { decodeBatchOutput, withStrayRejection } from './contract.js';
import type { EncodedAnswer } from './host/engine.js';
import { serializeBatch, validateInput } from './options.js';
import { RunError, type RunInput, type OutboundTally, type RunOutput, type RuntimeLimits, type RuntimeMetricsSink } from './types.js';

/** The serialized batch `send` carries to a sandbox. */
export interface SerializedBatch {
  eventsJson: string;
  /** How many events eventsJson holds. */
  eventCount: number;
  metadataJson: string | null;
  captureLogs: boolean;
  /** RunInput.credentials as JSON, what getCredential() reads; null when there are none. */
  credentialsJson: string | null;
  /** The names error frames show (see serializeBatch); null for the defaults. */
  namesJson: string | null;
  /** RunInput.outbound === 'skip'. */
  skipOutbound: boolean;
}

export async function runBatch(
  input: RunInput,
  limits: RuntimeLimits,
  metrics: RuntimeMetricsSink | undefined,
  send: (input: RunInput, batch: SerializedBatch) => Promise<EncodedAnswer>,
): Promise<RunOutput> {
  const started = performance.now();
  const events = Array.isArray(input?.events) ? input.events : [];
  let coldStart = false;
  let outbound: OutboundTally | undefined;
  let output: RunOutput | undefined;
  let failure: unknown;
  try {
    validateInput(input, limits);
    const captureLogs = input.captureLogs !== false;
    const answer = await send(input, { ...serializeBatch(input), eventCount: events.length, captureLogs, skipOutbound: input.outbound === 'skip' });
    // What a host relays was produced next to user code: check it before use.
    if (typeof answer?.encoded !== 'string') throw new RunError('invalid_output', 'the sandbox answered with no output');
    coldStart = answer.coldStart === true;
    outbound = answer.outbound;
    const stray = captureLogs && typeof answer.strayRejection === 'string' ? answer.strayRejection : undefined;
    output = withStrayRejection(() => decodeBatchOutput(answer.encoded, events.length, limits), stray);
    // Not enumerable: a fact about this run for the stats, never part of an answer built from the output.
    if (coldStart) Object.defineProperty(output, 'coldStart', { value: true, enumerable: false });
    if (outbound) Object.defineProperty(output, 'outbound', { value: outbound, enumerable: false });
    return output;
  } catch (error) {
    failure = error instanceof RunError ? error : new RunError('code_error', error instanceof Error ? error.message : String(error));
    throw failure;
  } finally {
    if (metrics?.onBatch) reportBatch(metrics, input, events.length, performance.now() - started, coldStart, output, failure, outbound);
  }
}

/** Tells the metrics sink about one finished batch; a failing sink never fails the batch. */
export function reportBatch(metrics: RuntimeMetricsSink, input: RunInput, eventsIn: number, durationMs: number, coldStart: boolean, output: RunOutput | undefined, failure: unknown, outbound?: OutboundTally): void {
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
      ...(outbound ? { outbound } : {}),
    });
  } catch {
    // A failing metrics sink must not fail the batch.
  }
}
