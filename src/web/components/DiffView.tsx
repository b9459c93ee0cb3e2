import { useEffect, useRef } from 'react';
import { basicSetup } from 'codemirror';
import { MergeView, unifiedMergeView } from '@codemirror/merge';
import { EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import type { Language } from '../language.js';
import { useDarkScheme, useMediaQuery } from '../use-media-query.js';
import { codeLanguage } from './code-language.js';
import { codeTheme } from './code-theme.js';

/** Two versions side by side (one column with inline changes on narrow screens), both read-only. */
export function DiffView({
  original,
  modified,
  originalLabel,
  modifiedLabel,
  language,
}: {
  original: string;
  modified: string;
  originalLabel: string;
  modifiedLabel: string;
  /** Both sides are versions of one resource, so one language. */
  language: Language;
}) {
  const parent = useRef<HTMLDivElement>(null);
  const narrow = useMediaQuery('(max-width: 700px)');
  const dark = useDarkScheme();

  useEffect(() => {
    const host = parent.current;
    if (!host) return;
    const readOnly = [basicSetup, codeLanguage(language), codeTheme(dark), EditorState.readOnly.of(true), EditorView.editable.of(false)];
    if (narrow) {
      const view = new EditorView({
        parent: host,
        state: EditorState.create({
          doc: modified,
          extensions: [
            ...readOnly,
            unifiedMergeView({ original, mergeControls: false, collapseUnchanged: { margin: 3, minSize: 6 } }),
            EditorView.contentAttributes.of({ 'aria-label': `Changes from ${originalLabel} to ${modifiedLabel}` }),
          ],
        }),
      });
      return () => view.destroy();
    }
    const view = new MergeView({
      parent: host,
      a: { doc: original, extensions: [...readOnly, EditorView.contentAttributes.of({ 'aria-label': originalLabel })] },
      b: { doc: modified, extensions: [...readOnly, EditorView.contentAttributes.of({ 'aria-label': modifiedLabel })] },
      highlightChanges: true,
      gutter: true,
      collapseUnchanged: { margin: 3, minSize: 6 },
    });
    return () => view.destroy();
  }, [original, modified, originalLabel, modifiedLabel, language, narrow, dark]);

  const identical = original === modified;
  return (
    <div>
      {identical ? <p className="alert alert-info">These two versions have identical code.</p> : null}
      <div className="diff-view" data-testid="diff-view">
        {narrow ? null : (
          <div className="diff-heads" aria-hidden="true">
            <div>{originalLabel}</div>
            <div>{modifiedLabel}</div>
          </div>
        )}
        <div ref={parent} className="diff-host" />
      </div>
    </div>
  );
}
