import type { FastifyInstance } from 'fastify';
import { nativeEntry, scenarios, type NativeEntry } from './scenarios.js';

// The ceiling the benchmark divides by: the same server build, the same JSON body parser and hooks,
// the same function, but called directly in the server process with no sandbox. It answers the same
// wire shape as /customTransform ({ output, metadata, statusCode } per output event, input order).
// Registered only by bench/runtime/server.ts; Tiller itself never serves it.

export async function nativeBenchRoutes(app: FastifyInstance): Promise<void> {
  const entries = new Map<string, NativeEntry>(scenarios.map((s) => [s.key, nativeEntry(s)]));

  app.post<{ Params: { scenario: string }; Body: unknown }>('/bench/native/:scenario', { config: { auth: 'runtime' } }, async (request, reply) => {
    const entry = entries.get(request.params.scenario);
    const batch = request.body as Array<{ message: Record<string, unknown>; metadata: Record<string, unknown> }>;
    if (!entry || !Array.isArray(batch)) return reply.code(404).send({ error: 'unknown scenario' });
    const answers: unknown[] = [];
    if (entry.kind === 'event') {
      for (const { message, metadata } of batch) {
        const result = entry.fn(message, () => metadata);
        if (result === null || result === undefined) continue;
        if (Array.isArray(result)) for (const output of result) answers.push({ output, metadata, statusCode: 200 });
        else answers.push({ output: result, metadata, statusCode: 200 });
      }
    } else {
      const metadataOf = new Map<unknown, unknown>(batch.map((e) => [e.message, e.metadata]));
      const outputs = entry.fn(
        batch.map((e) => e.message),
        (event) => metadataOf.get(event) ?? {},
      ) as unknown[];
      for (const output of outputs) answers.push({ output, metadata: metadataOf.get(output) ?? {}, statusCode: 200 });
    }
    return reply.type('application/json; charset=utf-8').send(JSON.stringify(answers));
  });
}
