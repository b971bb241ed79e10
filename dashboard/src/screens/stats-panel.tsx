/**
 * The figures of GET /v1/stats/... for one source (the whole project, a campaign, a transactional
 * group) over a chosen range, by hour or by day of the project's zone or UTC, for every channel or
 * one: each figure with what it means (stats-definitions.ts), the skips by reason, a chart over
 * time and the same figures as tables by bucket, channel and variant. The analytics screens and
 * the campaign report show this one component.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import { project } from '../state.js';
import { BarChart } from '../chart.js';
import { chartable, figures, isRateKey, labelOf } from '../stats-definitions.js';
import {
  channelTotals, channelsOf, percent, rangeOf, slotsOf, wallClock,
  type Counter, type Granularity, type Metrics, type RangeChoice, type Stats,
} from '../stats-math.js';
import { Empty, Field, Problem, instantOf } from '../ui.js';

export type StatsSource = { kind: 'project' } | { kind: 'campaign' | 'transactional'; id: string };

const ranges: [RangeChoice, string][] = [['24h', 'Last 24 hours'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days'], ['custom', 'Custom']];
/** The columns of the tables by bucket, channel and variant. */
const columns: (Counter | 'open_rate' | 'click_rate')[] = ['sent', 'delivered', 'failed', 'skipped', 'opens_unique', 'clicks_unique', 'bounces', 'unsubscribes', 'open_rate', 'click_rate'];

export const channelName = (c: string): string => (c === '' ? 'none (skipped before a channel was chosen)' : c);
const shown = (m: Metrics, key: string): string => (isRateKey(key) ? percent(m[key]) : (m[key as Counter] ?? 0).toLocaleString());

function Choice<T extends string>(p: { label: string; value: T; options: [T, string][]; onChange(v: T): void }) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{p.label}</label>
      <select id={id} value={p.value} onChange={(e) => p.onChange((e.currentTarget as HTMLSelectElement).value as T)}>
        {p.options.map(([v, l]) => <option value={v}>{l}</option>)}
      </select>
    </div>
  );
}

function Figures({ rows, caption, first }: { rows: { head: string; m: Metrics }[]; caption: string; first: string }) {
  return (
    // Wider than a narrow window: it scrolls on its own, and takes the focus so a keyboard can scroll it.
    <div class="scroll" tabIndex={0} role="region" aria-label={caption}>
      <table class="figures">
        <caption class="visually-hidden">{caption}</caption>
        <thead><tr><th scope="col">{first}</th>{columns.map((k) => <th scope="col">{labelOf(k)}</th>)}</tr></thead>
        <tbody>{rows.map((r) => <tr><th scope="row">{r.head}</th>{columns.map((k) => <td>{shown(r.m, k)}</td>)}</tr>)}</tbody>
      </table>
    </div>
  );
}

async function fetchStats(source: StatsSource, query: { from: string; to: string; granularity: Granularity; time_zone: 'project' | 'UTC' }) {
  if (source.kind === 'project') return api.GET('/v1/stats/project', { params: { query } });
  if (source.kind === 'campaign') return api.GET('/v1/stats/campaigns/{campaign_id}', { params: { path: { campaign_id: source.id }, query } });
  return api.GET('/v1/stats/transactional/{group_id}', { params: { path: { group_id: source.id }, query } });
}

/** `refresh`: a value that changes when the figures should be read again (a campaign report's refresh while it sends). */
export function StatsPanel({ source, level = 2, initialRange = '7d', variantName, refresh }: {
  source: StatsSource; level?: 2 | 3; initialRange?: RangeChoice; variantName?: (v: string) => string; refresh?: number;
}) {
  const H = (p: { children: ComponentChildren }) => (level === 2 ? <h2>{p.children}</h2> : <h3>{p.children}</h3>);
  const [range, setRange] = useState<RangeChoice>(initialRange);
  const [custom, setCustom] = useState<{ from: string; to: string }>();
  const [granularity, setGranularity] = useState<Granularity>(initialRange === '24h' ? 'hour' : 'day');
  const [zone, setZone] = useState<'project' | 'UTC'>('project');
  const [channel, setChannel] = useState('*');
  const [metric, setMetric] = useState<Counter>('sent');
  const [stats, setStats] = useState<Stats>();
  const [problem, setProblem] = useState<ApiProblem>();
  // Only the answer to the latest question is shown: an earlier one that arrives late is dropped.
  const asked = useRef(0);
  const key = source.kind === 'project' ? 'project' : `${source.kind}:${source.id}`;

  const load = async () => {
    const span = range === 'custom' ? custom : rangeOf(range, Date.now());
    if (!span) return;
    const n = ++asked.current;
    const r = await fetchStats(source, { ...span, granularity, time_zone: zone });
    if (n !== asked.current) return;
    // A refused question (a range too long for hours) clears the figures: they would answer another one.
    if (!r.data) { setProblem(problemOf(r.error)); setStats(undefined); return; }
    setProblem(undefined);
    setStats(r.data);
  };
  useEffect(() => { void load(); }, [key, range, custom, granularity, zone, project.value?.id, refresh]);

  const pickCustom = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    setCustom({ from: instantOf(String(f.get('from'))), to: instantOf(String(f.get('to'))) });
  };

  const channels = stats ? channelsOf(stats) : [];
  if (channel !== '*' && !channels.includes(channel)) channels.push(channel);
  const totals = stats && channelTotals(stats, channel);
  const slots = stats ? slotsOf(stats, channel) : [];
  const clock = stats && wallClock(stats.time_zone);
  const at = (iso: string) => { const w = clock!(Date.parse(iso)); return `${w.day} ${w.time}`; };
  const per = granularity === 'hour' ? 'hour' : 'day';
  const reasons = totals ? Object.entries(totals.skipped_by_reason).sort((a, b) => b[1] - a[1]) : [];
  const variants = stats?.variants.filter((v) => v.variant !== '') ?? [];
  return (
    <div class="stats">
      <div class="inline">
        <Choice<RangeChoice> label="Range" value={range} options={ranges} onChange={setRange} />
        <Choice<Granularity> label="Group by" value={granularity} options={[['hour', 'Hour'], ['day', 'Day']]} onChange={setGranularity} />
        <Choice<'project' | 'UTC'> label="Time zone" value={zone} options={[['project', 'The project\'s'], ['UTC', 'UTC']]} onChange={setZone} />
        <Choice label="Channel" value={channel} options={[['*', 'All channels'], ...channels.map((c): [string, string] => [c, channelName(c)])]} onChange={setChannel} />
      </div>
      {range === 'custom' && (
        <form class="inline" onSubmit={pickCustom} aria-label="Custom range">
          <Field label="From" name="from" type="datetime-local" required hint="Included, in this browser's time." />
          <Field label="To" name="to" type="datetime-local" required hint="Excluded. At most 31 days by hour, 366 by day." />
          <button type="submit">Show this range</button>
        </form>
      )}
      <Problem problem={problem} />
      {range === 'custom' && !custom && <Empty>Choose the range's start and end.</Empty>}
      {stats && totals && (<>
        <p role="status" class="hint">
          From {at(stats.from)} to {at(stats.to)} in {stats.time_zone}, by {per}{channel === '*' ? ', every channel' : `, ${channelName(channel)} only`}.
        </p>
        <dl class="tiles" aria-label="Figures">
          {figures.map((f) => (
            <div class="tile">
              <dt>{f.label}</dt>
              <dd class="figure">{shown(totals, f.key)}</dd>
              <dd class="help">{f.help}</dd>
            </div>
          ))}
        </dl>
        <H>Skipped, by reason</H>
        {reasons.length === 0 ? <Empty>None skipped in this range.</Empty> : (
          <ul class="reasons" aria-label="Skipped, by reason">{reasons.map(([r, n]) => <li key={r}><strong>{r}</strong>: {n.toLocaleString()}</li>)}</ul>
        )}
        <H>Over time</H>
        {slots.every((s) => !s.recorded) ? (
          <Empty>Nothing was recorded in this range{channel === '*' ? '' : ' on this channel'}: a figure moves when Herald records a send, skip, receipt, open or click, so a range before the first send is empty.</Empty>
        ) : (<>
          <Choice<Counter> label="Chart" value={metric} options={chartable.map((c): [Counter, string] => [c, labelOf(c)])} onChange={setMetric} />
          <BarChart name={`${labelOf(metric)} by ${per}`} points={slots.map((s) => ({ label: s.local, value: s.figures[metric] }))} />
          <Figures caption={`Figures by ${per}`} first={per === 'hour' ? 'Hour' : 'Day'}
            rows={slots.filter((s) => s.recorded).map((s) => ({ head: s.local.replace('T', ' '), m: s.figures }))} />
        </>)}
        {channel === '*' && channels.length > 0 && (<>
          <H>By channel</H>
          <Figures caption="Figures by channel" first="Channel" rows={channels.map((c) => ({ head: channelName(c), m: channelTotals(stats, c) }))} />
        </>)}
        {channel === '*' && variants.length > 0 && (<>
          <H>By variant</H>
          <Figures caption="Figures by variant" first="Variant" rows={variants.map((v) => ({ head: variantName?.(v.variant) ?? v.variant, m: v }))} />
        </>)}
      </>)}
    </div>
  );
}
