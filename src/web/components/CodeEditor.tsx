import { useEffect, useImperativeHandle, useRef, type Ref } from 'react';
import { basicSetup } from 'codemirror';
import { lintGutter, setDiagnostics, type Diagnostic } from '@codemirror/lint';
import { Compartment, EditorState, StateEffect, StateField, type Extension } from '@codemirror/state';
import { Decoration, EditorView, type DecorationSet } from '@codemirror/view';
import type { Language } from '../language.js';
import { useDarkScheme } from '../use-media-query.js';
import { codeLanguage } from './code-language.js';
import { codeTheme } from './code-theme.js';

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

/** Where to highlight whole lines: a compile problem's line and a test run's error line. */
interface LineMark {
  from: number;
  runtime: boolean;
}

const setErrorLines = StateEffect.define<LineMark[]>();

const errorLineMark = Decoration.line({ class: 'cm-error-line', attributes: { 'data-error-line': 'true' } });
// The same look; a separate attribute so the two kinds can be told apart (and tested) on their own.
const runtimeErrorLineMark = Decoration.line({ class: 'cm-error-line', attributes: { 'data-runtime-error-line': 'true' } });

// A whole-line highlight next to the lint underline, so the line stands out even at a glance.
const errorLineField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(decorations, transaction) {
    let next = decorations.map(transaction.changes);
    for (const effect of transaction.effects) {
      if (effect.is(setErrorLines)) {
        next = Decoration.set(
          effect.value.map((mark) => (mark.runtime ? runtimeErrorLineMark : errorLineMark).range(mark.from)),
          true,
        );
      }
    }
    return next;
  },
  provide: (field) => EditorView.decorations.from(field),
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
  /** Picks the syntax highlighting; the editor runs no linter of its own, for either language. */
  language: Language;
  onChange?: (code: string) => void;
  label: string;
  /** A compile error: marked, and scrolled to. */
  problem?: EditorProblem | null;
  /** Where a test run's error was thrown: marked, but not scrolled to (the user is reading the result). */
  runtimeError?: EditorProblem | null;
  readOnly?: boolean;
  handleRef?: Ref<CodeEditorHandle>;
  describedBy?: string;
}

/** Lint diagnostics and line highlights for both kinds of error, replacing the previous ones. */
function showMarks(view: EditorView, problem: EditorProblem | null, runtimeError: EditorProblem | null, scrollToProblem: boolean): void {
  const marks = [
    ...(problem ? [{ problem, runtime: false, source: 'Tiller' }] : []),
    ...(runtimeError ? [{ problem: runtimeError, runtime: true, source: 'Test run' }] : []),
  ];
  const placed = marks.map((mark) => ({ ...mark, place: placeProblem(view.state, mark.problem) }));
  const diagnostics: Diagnostic[] = placed.map(({ place, problem: shown, source }) => ({ from: place.from, to: place.to, severity: 'error', message: shown.message, source }));
  const compile = placed.find((mark) => !mark.runtime);
  view.dispatch(setDiagnostics(view.state, diagnostics), {
    effects: [
      setErrorLines.of(placed.map(({ place, runtime }) => ({ from: place.lineStart, runtime }))),
      ...(compile && scrollToProblem ? [EditorView.scrollIntoView(compile.place.from, { y: 'center' })] : []),
    ],
  });
}

export function CodeEditor({ value, language, onChange, label, problem = null, runtimeError = null, readOnly, handleRef, describedBy }: CodeEditorProps) {
  const parent = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const onChangeRef = useRef(onChange);
  onChangeRef.current = onChange;
  const marks = useRef({ problem, runtimeError });
  marks.current = { problem, runtimeError };
  const dark = useDarkScheme();
  // Switching language while creating swaps the highlighting in place, keeping undo history.
  const languageSlot = useRef(new Compartment());
  const languageRef = useRef(language);
  languageRef.current = language;

  useEffect(() => {
    if (!parent.current) return;
    const extensions: Extension[] = [
      basicSetup,
      languageSlot.current.of(codeLanguage(languageRef.current)),
      lintGutter(),
      errorLineField,
      codeTheme(dark),
      EditorView.lineWrapping,
      EditorView.contentAttributes.of({ 'aria-label': label, ...(describedBy ? { 'aria-describedby': describedBy } : {}) }),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) onChangeRef.current?.(update.state.doc.toString());
      }),
    ];
    if (readOnly) extensions.push(EditorState.readOnly.of(true), EditorView.editable.of(false));
    const created = new EditorView({ state: EditorState.create({ doc: value, extensions }), parent: parent.current });
    view.current = created;
    // A view made again (read-only, description or colour scheme changed) keeps the marks the old one showed.
    showMarks(created, marks.current.problem, marks.current.runtimeError, false);
    return () => {
      created.destroy();
      view.current = null;
    };
    // The view is created once; later value changes are pushed in by the effect below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [readOnly, label, describedBy, dark]);

  useEffect(() => {
    view.current?.dispatch({ effects: languageSlot.current.reconfigure(codeLanguage(language)) });
  }, [language]);

  useEffect(() => {
    const current = view.current;
    if (!current) return;
    const doc = current.state.doc.toString();
    if (doc !== value) current.dispatch({ changes: { from: 0, to: doc.length, insert: value } });
  }, [value]);

  const scrolledTo = useRef<EditorProblem | null>(null);
  useEffect(() => {
    const current = view.current;
    if (!current) return;
    // Scroll to a compile problem once, when it appears, not again when the runtime mark changes.
    const newProblem = problem !== null && problem !== scrolledTo.current;
    scrolledTo.current = problem;
    showMarks(current, problem, runtimeError, newProblem);
  }, [problem, runtimeError]);

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

  return <div ref={parent} className={`code-editor${readOnly ? ' read-only' : ''}`} data-testid="code-editor" data-language={language} />;
}
