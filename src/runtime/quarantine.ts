// What the pool remembers about code that crashed a sandbox host process:
// - a stored version (with its linked libraries) is quarantined when a crash is pinned on one of
//   its batches, or when it was running during two unexplained host deaths within the strike
//   window; the back-off doubles with each quarantine (base, 2x, 4x, ... capped), and is
//   forgotten after a quiet period of twice the cap;
// - unsaved code of test calls counts against its workspace: past `inlineCrashLimit` crashes in
//   `inlineWindowMs`, that workspace's inline runs are refused until the oldest crash ages out.

export interface QuarantineOptions {
  /** First quarantine (default 60 s). */
  baseMs: number;
  /** Longest quarantine (default 1 h). */
  maxMs: number;
  /** An unexplained host death strikes the versions it was running; two strikes in this window quarantine (default 10 min). */
  strikeWindowMs: number;
  /** Inline crashes a workspace may cause per window before its test calls are refused (default 3). */
  inlineCrashLimit: number;
  inlineWindowMs: number;
}

export const defaultQuarantineOptions: QuarantineOptions = {
  baseMs: 60_000,
  maxMs: 60 * 60_000,
  strikeWindowMs: 10 * 60_000,
  inlineCrashLimit: 3,
  inlineWindowMs: 60_000,
};

/** A quarantine that just began, as the pool reports it. */
export interface QuarantineNotice {
  workspaceId: string;
  versionId: string;
  /** Library version ids linked in the quarantined combination. */
  libraryVersionIds: string[];
  until: Date;
  /** How many times this combination has been quarantined in a row (1 for the first). */
  count: number;
  reason: string;
}

interface VersionRecord {
  until: number;
  count: number;
  lastAt: number;
  strikes: number[];
  reason: string;
}

export class QuarantineBook {
  private readonly versions = new Map<string, VersionRecord>();
  private readonly inlineCrashes = new Map<string, number[]>();
  /** Quarantines begun since start. */
  total = 0;

  constructor(private readonly options: QuarantineOptions) {}

  /** Until when the key is quarantined, or undefined when it may run. */
  quarantinedUntil(key: string, now = Date.now()): number | undefined {
    const record = this.versions.get(key);
    return record && record.until > now ? record.until : undefined;
  }

  /** Keys quarantined now. */
  activeCount(now = Date.now()): number {
    let count = 0;
    for (const record of this.versions.values()) if (record.until > now) count++;
    return count;
  }

  /** A crash pinned on this key: quarantine it now. Returns the new quarantine's end and count. */
  convict(key: string, reason: string, now = Date.now()): { until: number; count: number } {
    const record = this.recordOf(key, now);
    record.count++;
    record.strikes = [];
    record.lastAt = now;
    record.reason = reason;
    record.until = now + Math.min(this.options.maxMs, this.options.baseMs * 2 ** (record.count - 1));
    this.total++;
    return { until: record.until, count: record.count };
  }

  /** An unexplained crash while this key ran. Returns a quarantine when this was its second strike in the window. */
  strike(key: string, reason: string, now = Date.now()): { until: number; count: number } | undefined {
    const record = this.recordOf(key, now);
    record.strikes = record.strikes.filter((at) => at > now - this.options.strikeWindowMs);
    record.strikes.push(now);
    record.lastAt = now;
    if (record.strikes.length < 2) return undefined;
    return this.convict(key, reason, now);
  }

  /** Records a crash by inline code of a workspace. */
  inlineCrash(workspaceId: string, now = Date.now()): void {
    const recent = this.recentInline(workspaceId, now);
    recent.push(now);
    this.inlineCrashes.set(workspaceId, recent);
  }

  /** Milliseconds until the workspace may run inline code again, or 0. */
  inlineBlockedFor(workspaceId: string, now = Date.now()): number {
    const recent = this.recentInline(workspaceId, now);
    if (recent.length < this.options.inlineCrashLimit) return 0;
    const oldestCounted = recent[recent.length - this.options.inlineCrashLimit] as number;
    return Math.max(1, oldestCounted + this.options.inlineWindowMs - now);
  }

  private recentInline(workspaceId: string, now: number): number[] {
    const recent = (this.inlineCrashes.get(workspaceId) ?? []).filter((at) => at > now - this.options.inlineWindowMs);
    if (recent.length === 0) this.inlineCrashes.delete(workspaceId);
    return recent;
  }

  private recordOf(key: string, now: number): VersionRecord {
    let record = this.versions.get(key);
    // A quiet period of twice the longest quarantine forgives the past.
    if (record && record.until <= now && now - record.lastAt > 2 * this.options.maxMs) record = undefined;
    if (!record) {
      record = { until: 0, count: 0, lastAt: now, strikes: [], reason: '' };
      this.versions.set(key, record);
    }
    this.prune(now);
    return record;
  }

  /** Bounds memory: records long expired and without recent strikes are forgotten. */
  private prune(now: number): void {
    if (this.versions.size < 10_000) return;
    for (const [key, record] of this.versions) {
      if (record.until <= now && now - record.lastAt > this.options.strikeWindowMs) this.versions.delete(key);
    }
  }
}
