// Tiller's sandboxed runtime. Callers (the Transformations API's test/publish calls, the run
// endpoints and /customTransform) import only this file: createRuntime() starts the pool of
// sandbox host processes (pool.ts) and returns the Runtime contract of types.ts.
//
//   const runtime = createRuntime({ processes: 2, limits: { cpuTimeMs: 4000 }, metrics: { onBatch: (r) => ... } });
//   const analysis = await runtime.analyze(code, 'transformation');   // at save time
//   const out = await runtime.run({ workspaceId, transformation: { versionId, code }, libraries, events, metadata });
//   for (const r of out.results) r.statusCode === 200 ? send(outputJsonOf(r)) : fail(r.error);
//   await runtime.close();

export * from './types.js';
export { outputJsonOf } from './contract.js';
export { defaultCacheOptions } from './options.js';
export { createRuntime } from './pool.js';
export type { QuarantineNotice, QuarantineOptions } from './quarantine.js';
