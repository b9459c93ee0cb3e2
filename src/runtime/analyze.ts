// Save-time checks of transformation and library code. V8 compiles the module in a dedicated
// isolate (compiling never runs user code) for syntax errors and import specifiers; export names
// come from es-module-lexer (module-syntax.ts), so no top-level code of an unsaved module ever executes.

import ivm from 'isolated-vm';
import { ModuleTooDeepError, positionOf, scanModuleSyntax, type ModuleSyntax } from './module-syntax.js';
import { describeCompileError, libraryFilename, TRANSFORMATION_FILENAME } from './sandbox.js';
import type { CodeAnalysis } from './types.js';

/** Recreate the analysis isolate after this many compiles, so compiled code never piles up. */
const COMPILES_PER_ISOLATE = 500;

interface Compiler {
  isolate: ivm.Isolate;
  compiles: number;
  inFlight: number;
}

export class CodeAnalyzer {
  private current: Compiler | undefined;
  private closed = false;

  constructor(
    private readonly maxCodeBytes: number,
    private readonly onCatastrophicError?: (message: string) => void,
  ) {}

  async analyze(code: string, kind: 'transformation' | 'library'): Promise<CodeAnalysis> {
    if (typeof code !== 'string') return { ok: false, error: { code: 'compile_error', message: 'code must be a string' } };
    const bytes = Buffer.byteLength(code, 'utf8');
    if (bytes > this.maxCodeBytes) {
      return { ok: false, error: { code: 'code_too_large', message: `code is ${bytes} bytes; the limit is ${this.maxCodeBytes} bytes` } };
    }

    let imports: string[];
    const compiler = this.acquireCompiler();
    try {
      const module = await compiler.isolate.compileModule(code, { filename: kind === 'library' ? libraryFilename('library') : TRANSFORMATION_FILENAME });
      imports = [...new Set(module.dependencySpecifiers)];
      module.release();
    } catch (error) {
      if (compiler.isolate.isDisposed && this.closed) throw new Error('the runtime is shutting down');
      const described = describeCompileError(error);
      const where = described.line !== undefined ? ` (line ${described.line}, column ${described.column})` : '';
      return {
        ok: false,
        error: { code: 'compile_error', message: `${described.message}${where}`, ...(described.line !== undefined ? { line: described.line, column: described.column } : {}) },
      };
    } finally {
      this.releaseCompiler(compiler);
    }

    let syntax: ModuleSyntax;
    try {
      syntax = scanModuleSyntax(code);
    } catch (error) {
      if (error instanceof ModuleTooDeepError) return { ok: false, error: { code: 'compile_error', message: error.message } };
      throw error;
    }

    if (kind === 'library') {
      if (imports.length > 0) {
        const first = syntax.importOffsets[0];
        return {
          ok: false,
          error: {
            code: 'library_imports_not_allowed',
            message: `a library cannot import other modules (it imports "${imports[0]}")`,
            ...(first !== undefined ? positionOf(code, first) : {}),
          },
        };
      }
      return { ok: true, entry: null, imports: [] };
    }

    const hasEvent = syntax.exports.includes('transformEvent');
    const hasBatch = syntax.exports.includes('transformBatch');
    if (hasEvent && hasBatch) {
      return { ok: false, error: { code: 'multiple_entry_points', message: 'the code exports both transformEvent and transformBatch; export exactly one' } };
    }
    if (!hasEvent && !hasBatch) {
      return { ok: false, error: { code: 'missing_entry_point', message: 'the code must export a function named transformEvent or transformBatch' } };
    }
    return { ok: true, entry: hasEvent ? 'transformEvent' : 'transformBatch', imports };
  }

  close(): void {
    this.closed = true;
    if (this.current && !this.current.isolate.isDisposed) this.current.isolate.dispose();
    this.current = undefined;
  }

  private acquireCompiler(): Compiler {
    if (this.closed) throw new Error('the runtime is shutting down');
    let compiler = this.current;
    if (!compiler || compiler.isolate.isDisposed || compiler.compiles >= COMPILES_PER_ISOLATE) {
      // Compiling 1 MiB of source needs a few MB; the limit only guards against pathological inputs.
      compiler = { isolate: new ivm.Isolate({ memoryLimit: 64, ...(this.onCatastrophicError ? { onCatastrophicError: this.onCatastrophicError } : {}) }), compiles: 0, inFlight: 0 };
      const previous = this.current;
      this.current = compiler;
      if (previous && previous.inFlight === 0 && !previous.isolate.isDisposed) previous.isolate.dispose();
    }
    compiler.compiles++;
    compiler.inFlight++;
    return compiler;
  }

  /** A retired compiler isolate is disposed once its last compile is done. */
  private releaseCompiler(compiler: Compiler): void {
    compiler.inFlight--;
    if (compiler !== this.current && compiler.inFlight === 0 && !compiler.isolate.isDisposed) compiler.isolate.dispose();
  }
}
