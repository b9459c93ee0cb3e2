// Bounded concurrency per workspace: at most `concurrency` batches of one workspace run at once,
// up to `queueLimit` more wait in arrival order, and beyond that run() fails fast. One workspace's
// slow or hostile code therefore holds at most `concurrency` isolates busy, never the whole runtime.

import { RunError } from './types.js';

interface Lane {
  running: number;
  queue: Array<{ resolve: () => void; reject: (error: unknown) => void; timer: NodeJS.Timeout }>;
}

export class WorkspaceGate {
  private readonly lanes = new Map<string, Lane>();
  private closed = false;

  constructor(
    private readonly concurrency: number,
    private readonly queueLimit: number,
    private readonly queueTimeoutMs: number,
  ) {}

  get running(): number {
    let sum = 0;
    for (const lane of this.lanes.values()) sum += lane.running;
    return sum;
  }

  get queued(): number {
    let sum = 0;
    for (const lane of this.lanes.values()) sum += lane.queue.length;
    return sum;
  }

  /** Resolves when the workspace may run one more batch; call the returned function when done. */
  async enter(workspaceId: string): Promise<() => void> {
    if (this.closed) throw new RunError('shutting_down', 'the runtime is shutting down');
    let lane = this.lanes.get(workspaceId);
    if (!lane) {
      lane = { running: 0, queue: [] };
      this.lanes.set(workspaceId, lane);
    }
    const current = lane;
    if (current.running < this.concurrency) {
      current.running++;
      return this.leaver(workspaceId, current);
    }
    if (current.queue.length >= this.queueLimit) {
      throw new RunError('overloaded', `workspace has ${this.concurrency} batches running and ${this.queueLimit} waiting; try again later`);
    }
    await new Promise<void>((resolve, reject) => {
      const entry = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const at = current.queue.indexOf(entry);
          if (at >= 0) current.queue.splice(at, 1);
          reject(new RunError('overloaded', `batch waited more than ${this.queueTimeoutMs} ms for its workspace's turn`));
        }, this.queueTimeoutMs),
      };
      entry.timer.unref();
      current.queue.push(entry);
    });
    return this.leaver(workspaceId, current);
  }

  close(): void {
    this.closed = true;
    for (const lane of this.lanes.values()) {
      for (const entry of lane.queue.splice(0)) {
        clearTimeout(entry.timer);
        entry.reject(new RunError('shutting_down', 'the runtime is shutting down'));
      }
    }
  }

  private leaver(workspaceId: string, lane: Lane): () => void {
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const next = lane.queue.shift();
      if (next) {
        // The slot passes straight to the next batch, so `running` stays the same.
        clearTimeout(next.timer);
        next.resolve();
        return;
      }
      lane.running--;
      if (lane.running === 0) this.lanes.delete(workspaceId);
    };
  }
}
