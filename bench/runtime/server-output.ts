// The bench server's stdout and stderr (its hosts write to the same pipes), passed through line by
// line except the reports every bomb of the attack part causes by design: V8's out-of-memory banner
// from the dying host, and the pool's quarantine warning and host-exit error that name V8 giving up
// on an isolate (the host's last words: usually "Catastrophic out-of-memory error", sometimes
// "Script failed to terminate" when the host's watchdog disposes the bomb's isolate mid-collection).
// Those are counted instead of printed: a dozen bombs would otherwise bury the tables under a
// hundred lines. Anything else, a host that ended for another reason included, is printed as it comes.

import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

/** How pool.ts words a cause taken from a host's last words. */
const LAST_WORDS_CAUSE = 'V8 gave up on an isolate: ';

export class ServerOutput {
  private oomBanners = 0;
  private quarantines = 0;
  private hostExits = 0;
  /** Host-exit causes held back, with how often each came. */
  private readonly causes = new Map<string, number>();

  pipe(from: Readable, to: Writable): void {
    createInterface({ input: from, crlfDelay: Infinity }).on('line', (line) => {
      if (!this.hold(line)) to.write(`${line}\n`);
    });
  }

  /** What was held back so far, or '' when nothing was. */
  summary(): string {
    if (this.oomBanners + this.quarantines + this.hostExits === 0) return '';
    const causes = [...this.causes].map(([cause, n]) => `"${cause}" x${n}`).join(', ');
    return `(server output held back, as the bombs cause it: ${this.oomBanners} V8 out-of-memory banners, ${this.quarantines} quarantine warnings, ${this.hostExits} host-exit errors; causes: ${causes || 'none'})`;
  }

  private hold(line: string): boolean {
    // V8's banner: "<--- Last few GCs --->", GC trace lines "[pid:0x...]  7499 ms: Mark-Compact ...",
    // "<--- JS stacktrace --->", and the blank lines around them.
    if (line.trim() === '' || line === '<--- JS stacktrace --->' || /^\[\d+:0x[0-9a-f]+\]\s+\d+ ms: /.test(line)) return true;
    if (line === '<--- Last few GCs --->') {
      this.oomBanners++;
      return true;
    }
    if (!line.startsWith('{') || !line.includes(LAST_WORDS_CAUSE)) return false;
    let entry: { quarantine?: { reason?: string }; sandboxHost?: { type?: string; cause?: string } };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      return false;
    }
    if (entry.quarantine?.reason?.startsWith(LAST_WORDS_CAUSE)) {
      this.quarantines++;
      return true;
    }
    const cause = entry.sandboxHost?.type === 'exited' ? entry.sandboxHost.cause : undefined;
    if (cause?.startsWith(LAST_WORDS_CAUSE)) {
      this.hostExits++;
      const words = cause.slice(LAST_WORDS_CAUSE.length);
      this.causes.set(words, (this.causes.get(words) ?? 0) + 1);
      return true;
    }
    return false;
  }
}
