/**
 * A bar chart of one series over time, drawn as SVG: a few hundred bytes of code where a chart
 * library would cost tens of KB, and the figures it draws are also in a table beside it (the
 * chart is an image to assistive technology, the table is what they read). Each bar's value is
 * in its <title>, which browsers show on hover.
 */
export interface ChartPoint { label: string; value: number }

const width = 720;
const height = 200;
const left = 48;
const bottom = 22;
const top = 10;

/** The smallest of 1, 2, 5 × 10^k at or above `n`: an axis that ends on a round figure. */
function roundUp(n: number): number {
  if (n <= 1) return 1;
  const k = 10 ** Math.floor(Math.log10(n));
  return [1, 2, 5, 10].map((m) => m * k).find((v) => v >= n)!;
}

export function BarChart({ points, name }: { points: readonly ChartPoint[]; name: string }) {
  const max = roundUp(Math.max(0, ...points.map((p) => p.value)));
  const plot = width - left - 8;
  const step = plot / Math.max(1, points.length);
  const bar = Math.max(1, step * 0.8);
  const y = (v: number) => top + (height - top - bottom) * (1 - v / max);
  const total = points.reduce((n, p) => n + p.value, 0);
  const ends = points.length > 0 ? [points[0]!, points[points.length - 1]!] : [];
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${name}: ${total.toLocaleString()} in all over ${points.length} buckets`}>
        {[0, max / 2, max].filter(Number.isInteger).map((v) => (
          <g>
            <line x1={left} x2={width - 8} y1={y(v)} y2={y(v)} class="grid" />
            <text x={left - 6} y={y(v) + 4} text-anchor="end">{v.toLocaleString()}</text>
          </g>
        ))}
        {points.map((p, i) => (
          <rect x={left + i * step + (step - bar) / 2} y={y(p.value)} width={bar} height={Math.max(0, y(0) - y(p.value))} class="bar">
            <title>{`${p.label}: ${p.value.toLocaleString()}`}</title>
          </rect>
        ))}
        {ends.map((p, i) => (
          <text x={i === 0 ? left : width - 8} y={height - 6} text-anchor={i === 0 ? 'start' : 'end'}>{p.label.replace('T', ' ')}</text>
        ))}
      </svg>
    </figure>
  );
}
