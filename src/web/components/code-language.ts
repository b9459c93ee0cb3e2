import { javascript } from '@codemirror/lang-javascript';
import { python } from '@codemirror/lang-python';
import type { Extension } from '@codemirror/state';
import type { Language } from '../language.js';

/** Syntax highlighting, indentation and bracket rules for the code's language. */
export function codeLanguage(language: Language): Extension {
  return language === 'pythonfaas' ? python() : javascript();
}
