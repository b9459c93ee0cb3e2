import { defaultHighlightStyle, HighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { EditorView } from '@codemirror/view';
import type { Extension } from '@codemirror/state';

// The code editor and the version diff in the dashboard's colours. CodeMirror's default syntax
// colours are made for a light background; each is read through a CSS variable (--code-keyword,
// …) that the stylesheet's dark theme sets, and falls back to the default colour otherwise.

const roles: Record<string, string> = {
  '#404740': 'meta',
  '#708': 'keyword',
  '#219': 'atom',
  '#164': 'literal',
  '#a11': 'string',
  '#e40': 'regexp',
  '#00f': 'definition',
  '#30a': 'local',
  '#085': 'type',
  '#167': 'class',
  '#256': 'special',
  '#00c': 'property',
  '#940': 'comment',
  '#f00': 'invalid',
};

const themedHighlightStyle = HighlightStyle.define(
  defaultHighlightStyle.specs.map((spec) => {
    const role = typeof spec.color === 'string' ? roles[spec.color] : undefined;
    return role ? { ...spec, color: `var(--code-${role}, ${spec.color})` } : spec;
  }),
);

const surfaces = EditorView.theme({
  '&': { backgroundColor: 'var(--surface)', color: 'var(--text)' },
  '.cm-gutters': { backgroundColor: 'var(--surface-2)', borderRight: '1px solid var(--border)', color: 'var(--text-muted)' },
  '.cm-content': { caretColor: 'var(--text)' },
  '.cm-cursor, .cm-dropCursor': { borderLeftColor: 'var(--text)' },
});

/** `dark` picks CodeMirror's own dark variants (selection, merge colours) to match the page. */
export function codeTheme(dark: boolean): Extension {
  return [surfaces, syntaxHighlighting(themedHighlightStyle), EditorView.darkTheme.of(dark)];
}
