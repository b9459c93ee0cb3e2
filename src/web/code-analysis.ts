// Light, regex-level reading of user code: enough to list imports and exports in the UI. The
// server's compiler stays the authority on what the code really does.

const importPattern = /\bimport\s+(?:[\w*${}\s,]+?\s+from\s+)?["']([^"'\n]+)["']/g;

export function importedNames(code: string): string[] {
  const names = new Set<string>();
  for (const match of code.matchAll(importPattern)) if (match[1]) names.add(match[1]);
  return [...names];
}

export function exportedNames(code: string): { named: string[]; hasDefault: boolean } {
  const named = new Set<string>();
  for (const match of code.matchAll(/\bexport\s+(?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]*)/g)) if (match[1]) named.add(match[1]);
  for (const match of code.matchAll(/\bexport\s+(?:const|let|var|class)\s+([A-Za-z_$][\w$]*)/g)) if (match[1]) named.add(match[1]);
  for (const match of code.matchAll(/\bexport\s*\{([^}]*)\}/g)) {
    for (const part of (match[1] ?? '').split(',')) {
      const alias = part.trim().split(/\s+as\s+/).pop()?.trim();
      if (alias && alias !== 'default' && /^[A-Za-z_$][\w$]*$/.test(alias)) named.add(alias);
    }
  }
  return { named: [...named], hasDefault: /\bexport\s+default\b|\bas\s+default\b/.test(code) };
}

/** Finds "line 3, column 7" or "(3:7)" in an error message when the API gave no position fields. */
export function positionFromMessage(message: string): { line: number; column?: number } | null {
  const words = /\bline\s+(\d+)(?:\s*,?\s*col(?:umn)?\s+(\d+))?/i.exec(message);
  if (words?.[1]) return { line: Number(words[1]), ...(words[2] ? { column: Number(words[2]) } : {}) };
  const pair = /\((\d+):(\d+)\)/.exec(message) ?? /:(\d+):(\d+)\b/.exec(message);
  if (pair?.[1] && pair[2]) return { line: Number(pair[1]), column: Number(pair[2]) };
  return null;
}

/** The API repeats the position at the end of compile messages; the UI shows it separately. */
export function withoutPositionSuffix(message: string): string {
  return message.replace(/\s*\(line \d+,? column \d+\)\s*$/i, '');
}
