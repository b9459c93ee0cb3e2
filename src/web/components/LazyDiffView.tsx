import { lazy, Suspense, type ComponentProps } from 'react';
import { Loading } from './Feedback.js';

// The diff view brings CodeMirror's merge view: load it only when a page shows a comparison, and
// keep every page on this one wrapper so the bundler can leave it in its own chunk.
const DiffView = lazy(() => import('./DiffView.js').then((module) => ({ default: module.DiffView })));

export function LazyDiffView(props: ComponentProps<typeof DiffView>) {
  return (
    <Suspense fallback={<Loading label="Loading the comparison view…" />}>
      <DiffView {...props} />
    </Suspense>
  );
}
