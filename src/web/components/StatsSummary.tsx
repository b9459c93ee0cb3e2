import { useMemo } from 'react';
import type { StatsWindowName, TransformationStats } from '../api.js';
import { TimeChart, type ChartSeries } from './TimeChart.js';

// Totals and charts of a stats answer (one transformation's or the workspace's), and the window
// choice, shared by the Stats tab and the overview page.

export const STATS_WINDOWS: Array<{ id: StatsWindowName; label: string }> = [
  { id: '1h', label: 'Last hour' },
  { id: '24h', label: 'Last 24 hours' },
  { id: '7d', label: 'Last 7 days' },
];

export const formatRate = (rate: number) => `${(rate * 100).toFixed(rate > 0 && rate < 0.01 ? 2 : 1)} %`;
const count = (value: number) => value.toLocaleString('en');

export function StatsWindowSelect({ value, onChange }: { value: StatsWindowName; onChange: (next: StatsWindowName) => void }) {
  return (
    <label>
      Window{' '}
      <select value={value} onChange={(event) => onChange(event.target.value as StatsWindowName)} aria-label="Stats window">
        {STATS_WINDOWS.map((w) => (
          <option key={w.id} value={w.id}>
            {w.label}
          </option>
        ))}
      </select>
    </label>
  );
}

export function StatsSummary({ stats, emptyText }: { stats: TransformationStats; emptyText: string }) {
  const charts = useMemo(() => {
    const times = stats.series.map((point) => Date.parse(point.start) / 1000);
    const volume: ChartSeries[] = [
      { label: 'events in', values: stats.series.map((p) => p.eventsIn), color: '--brand' },
      { label: 'events out', values: stats.series.map((p) => p.eventsOut), color: '--text-muted' },
      { label: 'failed', values: stats.series.map((p) => p.failed), color: '--danger' },
    ];
    const rate: ChartSeries[] = [{ label: 'error rate', values: stats.series.map((p) => (p.eventsIn === 0 ? null : p.errorRate * 100)), color: '--danger' }];
    return { times, volume, rate };
  }, [stats]);
  const { totals } = stats;
  const figures: Array<[string, string]> = [
    ['Events in', count(totals.eventsIn)],
    ['Events out', count(totals.eventsOut)],
    ['Dropped', count(totals.dropped)],
    ['Failed', count(totals.failed)],
    ['Error rate', formatRate(totals.errorRate)],
    ['Batch time p50 / p99', totals.runMs.p50 === null ? '—' : `≤ ${totals.runMs.p50} / ≤ ${totals.runMs.p99} ms`],
  ];
  return (
    <>
      <dl className="stats-totals" aria-label="Totals over the window">
        {figures.map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      {totals.eventsIn === 0 ? (
        <p className="empty">{emptyText}</p>
      ) : (
        <div className="stats-charts">
          <TimeChart title="Events" times={charts.times} series={charts.volume} />
          <TimeChart title="Error rate" times={charts.times} series={charts.rate} format={(v) => `${v.toFixed(1)} %`} />
        </div>
      )}
    </>
  );
}
