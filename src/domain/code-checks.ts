// Save-time checks shared by transformations, libraries and the inline test call: text fields that
// both databases can store unchanged, a supported language (javascript, or pythonfaas with its alias
// python), and code that compiles in that language with the right entry point. Compiling never
// runs user code (see Runtime.analyze).

import { RunError, type Runtime, type RuntimeLanguage } from '../runtime/types.js';
import type { Store } from '../store/db.js';
import { invalid, runFailureOf } from './errors.js';
import { codePoints } from './names.js';
import type { CredentialSource } from './serving/run-events.js';

/** What the Transformations API needs from the process: the store, the sandbox and its code limit. */
export interface CatalogContext {
  store: Store;
  runtime: Runtime;
  maxCodeBytes: number;
  /** The workspace credentials getCredential() reads in test runs. */
  credentials?: CredentialSource | undefined;
  /**
   * Runs once a write that changes what /workspaceConfig serves (a publish, a connection) has
   * committed, so this instance serves the change at once; other instances hear the announcement.
   */
  onServedConfigChange?: ((workspaceId: string) => void) | undefined;
}

/** The languages Tiller stores and answers, by RudderStack's names; javascript is the default. */
export const SUPPORTED_LANGUAGES: readonly RuntimeLanguage[] = ['javascript', 'pythonfaas'];
export const DEFAULT_LANGUAGE: RuntimeLanguage = 'javascript';
/** Other names accepted on input for a supported language (stored and answered by its own name). */
export const LANGUAGE_ALIASES: Readonly<Record<string, RuntimeLanguage>> = Object.freeze({ python: 'pythonfaas' });

export const MAX_DESCRIPTION_CHARS = 5000;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Text Tiller stores must round-trip byte for byte on both dialects: PostgreSQL refuses NUL in text
 * and would silently replace half of a surrogate pair, so both are refused up front on every store.
 */
export function assertStorableText(field: string, value: string): void {
  if (value.includes('\u0000')) throw invalid('invalid_field', `${field} must not contain NUL characters`, { field });
  if (LONE_SURROGATE.test(value)) throw invalid('invalid_field', `${field} must be valid Unicode text (it has an unpaired surrogate)`, { field });
}

/** The supported language a client's value names (an alias gives its language), else undefined. */
export function normalizeLanguage(language: string): RuntimeLanguage | undefined {
  if ((SUPPORTED_LANGUAGES as readonly string[]).includes(language)) return language as RuntimeLanguage;
  return Object.hasOwn(LANGUAGE_ALIASES, language) ? LANGUAGE_ALIASES[language] : undefined;
}

/** The language of a new transformation or library: the default when omitted, 400 when not supported. */
export function assertLanguage(language: string | undefined): RuntimeLanguage {
  const value = language ?? DEFAULT_LANGUAGE;
  const normalized = normalizeLanguage(value);
  if (normalized === undefined) {
    const aliases = Object.entries(LANGUAGE_ALIASES).map(([alias, of]) => `"${alias}" for ${of}`);
    throw invalid(
      'unsupported_language',
      `language ${JSON.stringify(value)} is not supported; the supported languages are ${SUPPORTED_LANGUAGES.join(' and ')} (default ${DEFAULT_LANGUAGE}${aliases.length > 0 ? `; also accepted: ${aliases.join(', ')}` : ''})`,
      { field: 'language', supported: [...SUPPORTED_LANGUAGES] },
    );
  }
  return normalized;
}

/**
 * Whether an update's language differs from the stored one: an alias of the stored language is
 * the same language; an unknown value is a change (refused as such).
 */
export function languageChanges(requested: string | undefined, stored: string): boolean {
  return requested !== undefined && normalizeLanguage(requested) !== stored;
}

/** A stored language as the runtime takes it: JavaScript is the runtime's default, so it is left out. */
export function runtimeLanguage(stored: string): { language?: RuntimeLanguage } {
  return stored === DEFAULT_LANGUAGE ? {} : { language: stored as RuntimeLanguage };
}

/** Clients send null or omit the field when there is none; both mean the empty description. */
export function normalizeDescription(description: string | null | undefined): string {
  const value = description ?? '';
  if (codePoints(value) > MAX_DESCRIPTION_CHARS) throw invalid('invalid_field', `description must be at most ${MAX_DESCRIPTION_CHARS} characters`, { field: 'description' });
  assertStorableText('description', value);
  return value;
}

function assertCodeText(code: string, maxCodeBytes: number): void {
  const bytes = Buffer.byteLength(code, 'utf8');
  if (bytes > maxCodeBytes) throw invalid('code_too_large', `code is ${bytes} bytes; the limit is ${maxCodeBytes} bytes`, { field: 'code', limit: maxCodeBytes });
  if (code.trim().length === 0) throw invalid('invalid_field', 'code must not be empty', { field: 'code' });
  assertStorableText('code', code);
}

/** Turns a failed analysis into a 400 whose error object carries line and column when known. */
async function analyzeOrThrow(runtime: Runtime, code: string, kind: 'transformation' | 'library', language: RuntimeLanguage): Promise<string[]> {
  let analysis;
  try {
    analysis = await runtime.analyze(code, kind, language);
  } catch (error) {
    // Compiling happens in a sandbox process; losing it is Tiller's trouble (503), not the code's.
    if (error instanceof RunError) throw runFailureOf(error);
    throw error;
  }
  if (!analysis.ok) {
    const { code: errorCode, message, line, column } = analysis.error;
    throw invalid(errorCode, message, { field: 'code', ...(line !== undefined ? { line, column: column ?? 1 } : {}) });
  }
  return analysis.imports;
}

/** Checks transformation code in its language; returns the import names it uses (library import names). */
export async function checkTransformationCode(ctx: CatalogContext, code: string, language: RuntimeLanguage): Promise<string[]> {
  assertCodeText(code, ctx.maxCodeBytes);
  return analyzeOrThrow(ctx.runtime, code, 'transformation', language);
}

export async function checkLibraryCode(ctx: CatalogContext, code: string, language: RuntimeLanguage): Promise<void> {
  assertCodeText(code, ctx.maxCodeBytes);
  await analyzeOrThrow(ctx.runtime, code, 'library', language);
}
