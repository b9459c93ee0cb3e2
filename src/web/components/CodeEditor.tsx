import { useEffect, useImperativeHandle, useRef, type Ref } from 'react';
import { basicSetup } from 'codemirror';
import { javascript } from '@codemirror/lang-javascript';
import { lintGutter, setDiagnostics, type Diagnostic } from '@codemirror/lint';
import { EditorState, StateEffect, StateField, type Extension } from '@codemirror/state';
import { Decoration, EditorView, type DecorationSet } from '@codemirror/view';

export interface EditorProblem {
  message: string;
  /** 1-based; absent when the API could not place the error. */
  line?: number;
  /** 1-based. */
  column?: number;
}

export interface CodeEditorHandle {
  /** Moves the cursor to a 1-based line and column, scrolls there and focuses the editor. */
  focusAt: (line: number, column?: number) => void;
}

const setErrorLine = StateEffect.define<number | null>();

const errorLineMark = Decoration.line({ class: 'cm-error-line', attributes: { 'data-error-line': 'true' } });

// A whole-line highlight next to the lint underline, so the line stands out even at a glance.
const errorLineField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(decorations, transaction) {
    let next = decorations.map(transaction.changes);
    for (const effect of transaction.effects) {
      if (effect.is(setErrorLine)) {
        next = effect.value === null ? Decoration.none : Decoration.set([errorLineMark.range(effect.value)]);
      }
    }
    return next;
  },
  provide: (field) => EditorView.decorations.from(field),
});

const editorTheme = EditorView.theme({
  '&': { backgroundColor: 'var(--surface)' },
  '.cm-gutters': { backgroundColor: 'var(--surface-2)', borderRight: '1px solid var(--border)', color: 'var(--text-muted)' },
  '.cm-content': { caretColor: 'var(--text)' },
});

function placeProblem(state: EditorState, problem: EditorProblem): { from: number; to: number; lineStart: number } {
  const lineCount = state.doc.lines;
  const lineNumber = Math.min(Math.max(problem.line ?? 1, 1), lineCount);
  const line = state.doc.line(lineNumber);
  if (problem.column === undefined) return { from: line.from, to: line.to, lineStart: line.from };
  const from = Math.min(line.from + problem.column - 1, line.to);
  // Underline the token at the column (up to the next space), or one character at the line end.
  const rest = state.doc.sliceString(from, line.to);
  const tokenLength = Math.max(1, rest.search(/\s|$/));
  return { from, to: Math.min(from + tokenLength, line.to), lineStart: line.from };
}

interface CodeEditorProps {
  value: string;
  onChange?: (code: string) => void;
  label: string;
  problem?: EditorProblem | null;
  readOnly?: boolean;
  handleRef?: Ref<CodeEditorHandle>;
  describedBy?: string;
}

export function CodeEditor({ value, onChange, label, problem, readOnly, handleRef, describedBy }: CodeEditorProps) {
  const parent = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const onChangeRef = useRef(onChange);
  onChangeRef.current = onChange;

  useEffect(() => {
    if (!parent.current) return;
    const extensions: Extension[] = [
      basicSetup,
      javascript(),
      lintGutter(),
      errorLineField,
      editorTheme,
      EditorView.lineWrapping,
      EditorView.contentAttributes.of({ 'aria-label': label, ...(describedBy ? { 'aria-describedby': describedBy } : {}) }),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) onChangeRef.current?.(update.state.doc.toString());
      }),
    ];
    if (readOnly) extensions.push(EditorState.readOnly.of(true), EditorView.editable.of(false));
    const created = new EditorView({ state: EditorState.create({ doc: value, extensions }), parent: parent.current });
    view.current = created;
    return () => {
      created.destroy();
      view.current = null;
    };
    // The view is created once; later value changes are pushed in by the effect below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [readOnly, label, describedBy]);

  useEffect(() => {
    const current = view.current;
    if (!current) return;
    const doc = current.state.doc.toString();
    if (doc !== value) current.dispatch({ changes: { from: 0, to: doc.length, insert: value } });
  }, [value]);

  useEffect(() => {
    const current = view.current;
    if (!current) return;
    if (!problem) {
      current.dispatch(setDiagnostics(current.state, []), { effects: setErrorLine.of(null) });
      return;
    }
    const place = placeProblem(current.state, problem);
    const diagnostic: Diagnostic = { from: place.from, to: place.to, severity: 'error', message: problem.message, source: 'Tiller' };
    current.dispatch(setDiagnostics(current.state, [diagnostic]), {
      effects: [setErrorLine.of(place.lineStart), EditorView.scrollIntoView(place.from, { y: 'center' })],
    });
  }, [problem]);

  useImperativeHandle(
    handleRef,
    () => ({
      focusAt(line: number, column?: number) {
        const current = view.current;
        if (!current) return;
        const place = placeProblem(current.state, { message: '', line, column });
        current.dispatch({ selection: { anchor: place.from }, effects: EditorView.scrollIntoView(place.from, { y: 'center' }) });
        current.focus();
      },
    }),
    [],
  );

  return <div ref={parent} className={`code-editor${readOnly ? ' read-only' : ''}`} data-testid="code-editor" />;
}
