import type { Language } from './language.js';

// Light, regex-level reading of user code: enough to list imports and exports in the UI. The
// server's compiler stays the authority on what the code really does.

const importPattern = /\bimport\s+(?:[\w*${}\s,]+?\s+from\s+)?["']([^"'\n]+)["']/g;

// Python: `from financeLib import get_price` and `import financeLib, other as o`, at the start of a
// line (indented imports inside functions count too). Relative imports (`from . import x`) name no
// library, so the module must start with a letter or underscore.
const pythonFromPattern = /^[ \t]*from[ \t]+([A-Za-z_][\w.]*)[ \t]+import\b/gm;
const pythonImportPattern = /^[ \t]*import[ \t]+([^\n#;]+)/gm;

/** Libraries are imported by their top-level name: `import financeLib.sub` imports financeLib. */
function pythonImportedNames(code: string): string[] {
  const names = new Set<string>();
  for (const match of code.matchAll(pythonFromPattern)) if (match[1]) names.add(match[1].split('.')[0]!);
  for (const match of code.matchAll(pythonImportPattern)) {
    for (const part of (match[1] ?? '').split(',')) {
      const module = part.trim().split(/\s+as\s+/)[0]?.trim();
      if (module && /^[A-Za-z_][\w.]*$/.test(module)) names.add(module.split('.')[0]!);
    }
  }
  return [...names];
}

export function importedNames(code: string, language: Language = 'javascript'): string[] {
  if (language === 'pythonfaas') return pythonImportedNames(code);
  const names = new Set<string>();
  for (const match of code.matchAll(importPattern)) if (match[1]) names.add(match[1]);
  return [...names];
}

/** What a Python module offers importers: its top-level functions and classes (not private ones). */
function pythonExportedNames(code: string): { named: string[]; hasDefault: boolean } {
  const named = new Set<string>();
  for (const match of code.matchAll(/^(?:async[ \t]+)?(?:def|class)[ \t]+([A-Za-z_]\w*)/gm)) {
    if (match[1] && !match[1].startsWith('_')) named.add(match[1]);
  }
  return { named: [...named], hasDefault: false };
}

export function exportedNames(code: string, language: Language = 'javascript'): { named: string[]; hasDefault: boolean } {
  if (language === 'pythonfaas') return pythonExportedNames(code);
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
