/**
 * One campaign's report: its state and definition, the counts the API reads from its ledger
 * (targeted, sent, delivered, failed, skipped by reason, per variant, per occurrence), the
 * lifecycle buttons (start, pause, resume, stop, retry failed), and its messages with their
 * failures, each opening the message trace. While it is scheduled or sending, the counts refresh.
 * Its engagement (opens, clicks, bounces, unsubscribes, over time and per variant) is the analytics
 * screens' panel over GET /v1/stats/campaigns/{id}.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import type { paths } from '../api/openapi.js';
import { can, project } from '../state.js';
import { Empty, Page, Problem, Status, useEvery, when } from '../ui.js';
import { StatsPanel } from './stats-panel.js';

type Campaign = paths['/v1/campaigns/{id}']['get']['responses'][200]['content']['application/json'];
type Message = paths['/v1/messages']['get']['responses'][200]['content']['application/json']['messages'][number];
type Action = 'start' | 'pause' | 'resume' | 'stop';

const tallies = ['targeted', 'pending', 'sent', 'awaiting', 'delivered', 'failed', 'retryable', 'skipped'] as const;
type Tally = Record<(typeof tallies)[number], number>;
const refreshMs = 2000;
/** How many pages of recent messages are read to find this campaign's (the API lists messages by project, not by campaign). */
const messagePages = 10;

const actions: { action: Action; label: string; from: readonly Campaign['state'][] }[] = [
  { action: 'start', label: 'Start', from: ['draft'] },
  { action: 'pause', label: 'Pause', from: ['scheduled', 'running'] },
  { action: 'resume', label: 'Resume', from: ['paused'] },
  { action: 'stop', label: 'Stop', from: ['draft', 'scheduled', 'running', 'paused'] },
];

function Tallies({ rows, caption, first }: { rows: (Tally & { head: string })[]; caption: string; first: string }) {
  return (
    <table>
      <caption class="visually-hidden">{caption}</caption>
      <thead><tr><th scope="col">{first}</th>{tallies.map((k) => <th scope="col">{k}</th>)}</tr></thead>
      <tbody>{rows.map((r) => <tr><th scope="row">{r.head}</th>{tallies.map((k) => <td>{r[k].toLocaleString()}</td>)}</tr>)}</tbody>
    </table>
  );
}

function targetingOf(t: Record<string, unknown>, names: Map<string, string>): string {
  const parts: string[] = [];
  if (typeof t.segment_id === 'string') parts.push(`segment ${names.get(t.segment_id) ?? t.segment_id}`);
  if (Array.isArray(t.audience_ids)) parts.push(`audience ${t.audience_ids.map((a: string) => names.get(a) ?? a).join(' or ')}`);
  if (t.query !== undefined) parts.push(`query ${JSON.stringify(t.query)}`);
  if (Array.isArray(t.languages)) parts.push(`languages ${t.languages.join(', ')}`);
  if (Array.isArray(t.regions)) parts.push(`regions ${t.regions.join(', ')}`);
  return parts.length ? parts.join('; ') : 'every profile';
}

export function CampaignReport({ id }: { id: string }) {
  const [c, setC] = useState<Campaign>();
  const [messages, setMessages] = useState<Message[]>();
  const [problem, setProblem] = useState<ApiProblem>();
  const [notice, setNotice] = useState<string>();
  const [names, setNames] = useState<Map<string, string>>(new Map());
  /** How many times the campaign was read: its engagement figures are read again with it. */
  const [reads, setReads] = useState(0);
  const load = async () => {
    const r = await api.GET('/v1/campaigns/{id}', { params: { path: { id } } });
    if (!r.data) return setProblem(problemOf(r.error));
    setC(r.data);
    setReads((n) => n + 1);
  };
  const loadMessages = async () => {
    const group = `campaign:${id}`;
    const found: Message[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < messagePages; page++) {
      const r = await api.GET('/v1/messages', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } });
      if (!r.data) return setProblem(problemOf(r.error));
      found.push(...r.data.messages.filter((m) => m.group_id === group));
      if (!r.data.next_cursor) break;
      cursor = r.data.next_cursor;
    }
    setMessages(found);
  };
  /** The segments' and audiences' names, so the targeting reads as the operator wrote it. */
  const loadNames = async () => {
    const [sg, au] = await Promise.all([api.GET('/v1/segments', { params: { query: {} } }), api.GET('/v1/audiences', { params: { query: {} } })]);
    setNames(new Map([...(sg.data?.segments ?? []), ...(au.data?.audiences ?? [])].map((x) => [x.id, x.name] as [string, string])));
  };
  useEffect(() => { setC(undefined); setMessages(undefined); void loadNames(); void load().then(loadMessages); }, [id, project.value?.id]);
  const live = c?.state === 'scheduled' || c?.state === 'running';
  useEvery(refreshMs, live, async () => { await load(); await loadMessages(); });

  const act = async (action: Action) => {
    const r = await api.POST(`/v1/campaigns/{id}/${action}`, { params: { path: { id } } });
    if (!r.data) return setProblem(problemOf(r.error));
    setProblem(undefined);
    setNotice(undefined);
    setC(r.data);
  };
  const retry = async () => {
    const r = await api.POST('/v1/campaigns/{id}/retry-failed', { params: { path: { id } } });
    if (!r.data) return setProblem(problemOf(r.error));
    setProblem(undefined);
    setNotice(`${r.data.retried.toLocaleString()} failed recipient(s) sent again.`);
    await load();
  };
  const exportRecipients = async () => {
    const r = await api.POST('/v1/exports', { body: { kind: 'campaign_recipients', format: 'csv', campaign_id: id } });
    if (!r.data) return setProblem(problemOf(r.error));
    location.hash = '#/exports';
  };

  if (!c) return <Page title="Campaign"><Problem problem={problem} /></Page>;
  const n = c.counts.recipients;
  const done = n.sent + n.failed + n.skipped;
  const editor = can('editor');
  const reasons = Object.entries(c.counts.skipped_by_reason);
  const deliveries = Object.entries(c.counts.deliveries).filter(([, k]) => k > 0);
  const failing = messages?.filter((m) => m.counts.failed > 0) ?? [];
  return (
    <Page title={c.name} actions={<div class="actions">
      <a href="#/campaigns">All campaigns</a>
      {editor && (c.state === 'draft' || (c.state === 'scheduled' && !c.started_at)) && <a href={`#/campaigns/${c.id}/edit`}>Edit</a>}
      <button onClick={() => load().then(loadMessages)}>Refresh</button>
    </div>}>
      {notice && <p class="notice" role="status">{notice}</p>}
      <Problem problem={problem} />
      <dl class="facts">
        <dt>State</dt><dd><Status status={c.state} /></dd>
        <dt>Channels</dt><dd>{c.channels.join(' → ')}</dd>
        <dt>When</dt><dd><code>{JSON.stringify(c.when)}</code></dd>
        <dt>Targeting</dt><dd>{targetingOf(c.targeting, names)}</dd>
        <dt>Send rate</dt><dd>{c.send_rate ? `${c.send_rate.toLocaleString()} per minute` : 'unlimited'}</dd>
        <dt>Labels</dt><dd>{c.labels.join(', ') || '—'}</dd>
        <dt>Started</dt><dd>{when(c.started_at)}</dd>
        <dt>Finished</dt><dd>{when(c.finished_at)}</dd>
      </dl>
      {editor && (
        <div class="actions">
          {actions.filter((a) => a.from.includes(c.state)).map((a) => (
            <button class={a.action === 'stop' ? 'danger' : undefined} onClick={() => act(a.action)}>{a.label}</button>
          ))}
          {c.state !== 'draft' && c.state !== 'stopped' && <button onClick={retry} disabled={n.retryable === 0}>Retry failed ({n.retryable.toLocaleString()})</button>}
          <button onClick={exportRecipients}>Export recipients (CSV)</button>
        </div>
      )}
      <h2>Recipients</h2>
      {n.targeted > 0 && (<div class="field">
        <label for="campaign-progress">Recipients with an outcome: {done.toLocaleString()} of {n.targeted.toLocaleString()}{live ? ' (refreshing)' : ''}</label>
        <progress id="campaign-progress" value={done} max={n.targeted} />
      </div>)}
      <dl class="facts" aria-label="Recipient counts">
        {tallies.map((k) => <><dt>{k}</dt><dd>{n[k].toLocaleString()}</dd></>)}
        <dt>control</dt><dd>{n.control.toLocaleString()}</dd>
      </dl>
      <h3>Skipped, by reason</h3>
      {reasons.length === 0 ? <Empty>None skipped.</Empty> : (
        <ul class="reasons">{reasons.map(([reason, k]) => <li key={reason}><strong>{reason}</strong>: {k.toLocaleString()}</li>)}</ul>
      )}
      {c.variants.length > 1 && (<>
        <h3>By variant</h3>
        <Tallies caption="Counts by variant" first="variant"
          rows={c.counts.by_variant.map((v) => ({ ...v, head: c.variants[v.variant]?.name ?? `#${v.variant}` }))} />
      </>)}
      {c.counts.occurrences.length > 1 && (<>
        <h3>By occurrence</h3>
        <Tallies caption="Counts by occurrence" first="occurrence"
          rows={c.counts.occurrences.map((o) => ({ ...o, head: `${o.occurrence} · ${when(o.planned_at)} · ${o.state}` }))} />
      </>)}
      <h3>Deliveries, by status</h3>
      {deliveries.length === 0 ? <Empty>No delivery yet.</Empty> : (
        <ul class="reasons">{deliveries.map(([s, k]) => <li key={s}><Status status={s} />: {k.toLocaleString()}</li>)}</ul>
      )}
      <h2>Engagement</h2>
      <p class="hint">From the analytics counters, by when each fact was recorded. Their Delivered needs a receipt (an SMS report, an app's push report),
        where the recipients above count as delivered once a provider took their message.</p>
      <StatsPanel source={{ kind: 'campaign', id: c.id }} level={3} initialRange="30d" refresh={reads}
        variantName={(v) => (v === 'control' ? 'control group' : c.variants[Number(v)]?.name ?? `#${v}`)} />
      <h2>Messages</h2>
      {messages && (messages.length === 0 ? <Empty>No message sent by this campaign among the project's recent messages.</Empty> : (<>
        {failing.length > 0 && <p>{failing.length} message(s) with failed deliveries: open one to see who it failed for, and why.</p>}
        <table>
          <caption class="visually-hidden">This campaign's messages</caption>
          <thead><tr><th scope="col">Created</th><th scope="col">Content</th><th scope="col">Deliveries</th><th scope="col">sent</th><th scope="col">delivered</th><th scope="col">failed</th><th scope="col">skipped</th><th scope="col"><span class="visually-hidden">Trace</span></th></tr></thead>
          <tbody>{messages.map((m) => (
            <tr key={m.message_id}>
              <td>{when(m.created_at)}</td>
              <td>{m.parts.join(', ')}</td><td>{m.counts.total}</td><td>{m.counts.sent}</td><td>{m.counts.delivered}</td>
              <td>{m.counts.failed > 0 ? <strong>{m.counts.failed}</strong> : 0}</td><td>{m.counts.skipped}</td>
              <td><a href={`#/messages/${m.message_id}`}>Trace<span class="visually-hidden"> of message {m.message_id}</span></a></td>
            </tr>
          ))}</tbody>
        </table>
      </>))}
    </Page>
  );
}
