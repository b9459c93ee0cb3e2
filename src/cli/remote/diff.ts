// Comparison of output events with the expected ones: key order does not matter (as on the
// server's test suites), and a mismatch is shown as a line diff of sorted, indented JSON.
import { structuredPatch } from 'diff';
import pc from 'picocolors';

export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = canonical((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

export const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));

/** A unified-style diff of two values' JSON (jsdiff's structuredPatch), expected as "-" and actual as "+", with context. */
export function jsonDiff(expected: unknown, actual: unknown, context = 3): string {
  const a = `${JSON.stringify(canonical(expected), null, 2)}\n`;
  const b = `${JSON.stringify(canonical(actual), null, 2)}\n`;
  const lines: string[] = [pc.red('- expected') + ' ' + pc.green('+ actual')];
  for (const hunk of structuredPatch('expected', 'actual', a, b, '', '', { context }).hunks) {
    if (hunk.oldStart > 1 || lines.length > 1) lines.push(pc.dim('  ...'));
    for (const line of hunk.lines) {
      const shown = `${line[0]} ${line.slice(1)}`;
      lines.push(line[0] === '-' ? pc.red(shown) : line[0] === '+' ? pc.green(shown) : shown);
    }
  }
  return lines.join('\n');
}
