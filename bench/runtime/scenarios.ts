// The transformations the runtime benchmark serves, each as stored module source (what Tiller
// runs in its sandbox) and as the same source evaluated natively in the server process (what the
// native path runs). Both come from one text, so both paths run the same function.

export interface BenchLibrary {
  name: string;
  importName: string;
  code: string;
}

export interface BenchScenario {
  key: string;
  title: string;
  code: string;
  library?: BenchLibrary;
}

export const eventLibrary: BenchLibrary = {
  name: 'Event Lib',
  importName: 'eventLib',
  code: `export function normalize(event) {
  event.event = event.event.toLowerCase().replace(/ /g, '_');
  event.properties.total = event.properties.price * event.properties.quantity;
  return event;
}`,
};

export const scenarios: BenchScenario[] = [
  { key: 'trivial', title: 'trivial transformEvent', code: 'export function transformEvent(event) { event.properties.enriched = true; return event; }' },
  {
    key: 'library',
    title: 'transformEvent + library',
    code: 'import { normalize } from "eventLib";\nexport function transformEvent(event) { return normalize(event); }',
    library: eventLibrary,
  },
  { key: 'batch', title: 'transformBatch', code: 'export function transformBatch(events) { for (const e of events) e.properties.batched = true; return events; }' },
  { key: 'drop', title: 'drop half', code: 'export function transformEvent(event) { return event.properties.quantity % 2 === 0 ? null : event; }' },
];

/**
 * The attack part's crash payload: one allocation larger than an isolate's whole heap, which V8
 * cannot survive, so it ends the sandbox host process. The index makes each version's code distinct.
 */
export const bombCode = (i: number): string => `// attacker version ${i}\nexport function transformEvent(e) { const a = new Array(1e8).fill(0); return e; }`;

export type NativeEntry = { kind: 'event'; fn: (event: unknown, metadata: (event: unknown) => unknown) => unknown } | { kind: 'batch'; fn: (events: unknown[], metadata: (event: unknown) => unknown) => unknown };

/** Evaluates a scenario's module source as a plain function in this process (its library too). */
export function nativeEntry(scenario: BenchScenario): NativeEntry {
  let prelude = '';
  if (scenario.library) {
    const exported = [...scenario.library.code.matchAll(/export function (\w+)/g)].map((m) => m[1]!);
    prelude = `const ${scenario.library.importName} = (() => { ${scenario.library.code.replace(/export function/g, 'function')}\nreturn { ${exported.join(', ')} }; })();\n`;
  }
  const body = scenario.code
    .replace(/^import \{([^}]+)\} from "(\w+)";$/m, (_all, names: string, from: string) => `const {${names}} = ${from};`)
    .replace(/export (async )?function/g, '$1function');
  const kind = /function transformBatch/.test(body) ? 'batch' : 'event';
  const fn = new Function(`${prelude}${body}\nreturn ${kind === 'batch' ? 'transformBatch' : 'transformEvent'};`)() as NativeEntry['fn'];
  return { kind, fn } as NativeEntry;
}
