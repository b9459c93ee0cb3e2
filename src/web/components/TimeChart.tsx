import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

// A time series chart drawn by uPlot (small, fast, canvas). Colours come from the page's CSS
// variables, so the chart follows the light and dark themes.

export interface ChartSeries {
  label: string;
  values: Array<number | null>;
  /** A CSS variable name such as --brand, or a colour. */
  color: string;
}

const HEIGHT = 180;

function cssColor(name: string): string {
  if (!name.startsWith('--')) return name;
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

export function TimeChart({ title, times, series, format }: { title: string; times: number[]; series: ChartSeries[]; format?: (value: number) => string }) {
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const element = box.current;
    if (!element) return undefined;
    const text = cssColor('--text-muted');
    const grid = cssColor('--border');
    const axis: uPlot.Axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const plot = new uPlot(
      {
        width: Math.max(200, element.clientWidth),
        height: HEIGHT,
        scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: cssColor(s.color), width: 2, points: { show: false }, ...(format ? { value: (_u: uPlot, v: number | null) => (v === null ? '—' : format(v)) } : {}) }))],
        axes: [axis, { ...axis, size: 56, ...(format ? { values: (_u: uPlot, ticks: number[]) => ticks.map(format) } : {}) }],
        legend: { live: true },
      },
      [times, ...series.map((s) => s.values)],
      element,
    );
    // The chart takes its box's width, so it never widens the page.
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(200, element.clientWidth), height: HEIGHT }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [times, series, format]);

  return (
    <figure className="time-chart">
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title}: ${series.map((s) => s.label).join(', ')} over time`} />
    </figure>
  );
}
