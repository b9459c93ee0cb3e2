import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RuntimeMetrics } from '../../../src/metrics/runtime-metrics.js';
import type { BatchReport } from '../../../src/runtime/types.js';

const batch = (versionId: string): BatchReport => ({ workspaceId: 'w', versionId, eventsIn: 1, eventsOut: 1, dropped: 0, failed: 0, durationMs: 1, outcome: 'ok', coldStart: false });

describe('RuntimeMetrics per-version series', () => {
  it('keeps series for the most recently active versions only, so cycling versions cannot grow /metrics', async () => {
    const registry = new Registry();
    const metrics = new RuntimeMetrics(registry, { tenantLabels: true, maxVersionSeries: 2 });
    for (const versionId of ['a', 'b', 'a', 'c']) metrics.onBatch(batch(versionId));
    const text = await registry.metrics();
    expect(['a', 'b', 'c'].filter((v) => text.includes(`version_id="${v}"`))).toEqual(['a', 'c']);
  });

  it('labels no version or workspace without tenant labels', async () => {
    const registry = new Registry();
    const metrics = new RuntimeMetrics(registry);
    metrics.onBatch(batch('a'));
    expect(await registry.metrics()).not.toContain('version_id=');
  });
});
