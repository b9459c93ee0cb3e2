// A module's export names and static imports, read without running it, by es-module-lexer (the
// lexer Vite and Node's tooling use). V8 decides whether the code compiles; this only reads code V8
// already accepted.

import { initSync, parse } from 'es-module-lexer';

initSync();

export interface ModuleSyntax {
  /** Names the module exports, `default` included, in source order (duplicates removed). */
  exports: string[];
  /** Offsets of static `import` declarations and `export ... from` clauses. */
  importOffsets: number[];
}

/** The module nests deeper than the lexer can read (it recurses on destructuring patterns). */
export class ModuleTooDeepError extends Error {
  constructor() {
    super('the module nests too deeply for Tiller to read its exports');
    this.name = 'ModuleTooDeepError';
  }
}

/** Static imports: es-module-lexer marks dynamic import() with its offset and import.meta with -2. */
const STATIC_IMPORT = -1;

export function scanModuleSyntax(source: string): ModuleSyntax {
  let imports: ReturnType<typeof parse>[0];
  let exports: ReturnType<typeof parse>[1];
  try {
    [imports, exports] = parse(source);
  } catch (error) {
    // Its one failure on code V8 compiled: a destructuring pattern thousands of levels deep
    // overflows the lexer's stack. That is no transformation anyone writes; it is reported, not read.
    if (error instanceof RangeError) throw new ModuleTooDeepError();
    throw error;
  }
  return {
    exports: [...new Set(exports.map((entry) => entry.n))],
    importOffsets: imports.filter((entry) => entry.d === STATIC_IMPORT).map((entry) => entry.ss),
  };
}

/** 1-based line and column of a source offset. */
export function positionOf(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < source.length; i++) {
    const code = source.charCodeAt(i);
    if (code === 10 || code === 0x2028 || code === 0x2029 || (code === 13 && source.charCodeAt(i + 1) !== 10)) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
