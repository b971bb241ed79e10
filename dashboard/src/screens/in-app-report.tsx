/**
 * One in-app message (#/in-app/ID): its definition as stored, its preview, start (a draft) and stop
 * (for good, after a confirmation: docs/in-app.md, "What a stopped message does"), and its figures
 * from GET /v1/stats/in-app/{id}: impressions, unique impressions, clicks, dismissals and the click
 * rate, in total and per UTC day, read again every few seconds while it runs.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import type { paths } from '../api/openapi.js';
import { can, project } from '../state.js';
import { Empty, Page, Problem, Status, useEvery, when } from '../ui.js';
import type { InAppMessage } from './in-app-editor.js';
import { InAppPreview, type PreviewContent } from './in-app-preview.js';

export type InAppStats = paths['/v1/stats/in-app/{id}']['get']['responses'][200]['content']['application/json'];
const refreshMs = 3000;

export const rate = (r: number | null | undefined): string => (r === null || r === undefined ? '—' : `${(r * 100).toFixed(1)} %`);

/** A trigger as an operator reads it. */
export function triggerText(t: Record<string, unknown>): string {
  if (t.type === 'event') return `event ${String(t.event)}${Array.isArray(t.where) && t.where.length ? ` where ${JSON.stringify(t.where)}` : ''}`;
  return t.type === 'asap' ? 'as soon as synced' : 'session start';
}

/** Its dates: instants in this browser's zone, or wall times in each recipient's. */
export function datesText(m: Pick<InAppMessage, 'starts_at' | 'ends_at' | 'local_dates'>): string {
  if (!m.starts_at && !m.ends_at) return 'always';
  const at = (d: string | undefined) => (!d ? '…' : m.local_dates ? d.slice(0, 16).replace('T', ' ') : when(d));
  return `${at(m.starts_at)} → ${at(m.ends_at)}${m.local_dates ? ' (each recipient\'s time)' : ''}`;
}

const figures: { key: keyof InAppStats; label: string }[] = [
  { key: 'impressions', label: 'Impressions' }, { key: 'unique_impressions', label: 'Unique impressions' },
  { key: 'clicks', label: 'Clicks' }, { key: 'unique_clicks', label: 'Unique clicks' }, { key: 'dismissals', label: 'Dismissals' },
];

export function InAppReport({ id }: { id: string }) {
  const [m, setM] = useState<InAppMessage>();
  const [stats, setStats] = useState<InAppStats>();
  const [problem, setProblem] = useState<ApiProblem>();
  const [confirming, setConfirming] = useState(false);
  const dialog = useRef<HTMLDialogElement>(null);
  const load = async () => {
    const [r, s] = await Promise.all([
      api.GET('/v1/in-app-messages/{id}', { params: { path: { id } } }),
      api.GET('/v1/stats/in-app/{id}', { params: { path: { id } } }),
    ]);
    if (!r.data) return setProblem(problemOf(r.error));
    setM(r.data);
    if (s.data) setStats(s.data);
  };
  useEffect(() => { setM(undefined); setStats(undefined); void load(); }, [id, project.value?.id]);
  useEvery(refreshMs, m?.status === 'running', load);
  useEffect(() => {
    if (confirming) dialog.current?.showModal(); else dialog.current?.close();
  }, [confirming]);

  const act = async (action: 'start' | 'stop') => {
    setConfirming(false);
    const r = await api.POST(`/v1/in-app-messages/{id}/${action}`, { params: { path: { id } } });
    if (!r.data) return setProblem(problemOf(r.error));
    setProblem(undefined);
    setM(r.data);
  };

  if (!m) return <Page title="In-app message"><Problem problem={problem} /></Page>;
  const editor = can('editor');
  return (
    <Page title={m.name} actions={<div class="actions">
      <a href="#/in-app">All in-app messages</a>
      {editor && m.status !== 'stopped' && <a href={`#/in-app/${m.id}/edit`}>Edit</a>}
      <button onClick={load}>Refresh</button>
    </div>}>
      <Problem problem={problem} />
      {editor && m.status !== 'stopped' && (
        <div class="actions">
          {m.status === 'draft' && <button onClick={() => act('start')}>Start</button>}
          <button class="danger" onClick={() => setConfirming(true)}>Stop</button>
        </div>
      )}
      <dialog ref={dialog} aria-labelledby="in-app-stop-title" onClose={() => setConfirming(false)}>
        <h2 id="in-app-stop-title">Stop {m.name} for good?</h2>
        <p>Devices leave it out from their next sync, and one that holds it does not show it. It cannot be started or changed again; its figures stay.</p>
        <div class="actions">
          <button class="danger" onClick={() => act('stop')}>Stop for good</button>
          <button onClick={() => setConfirming(false)}>Keep it</button>
        </div>
      </dialog>
      <div style={{ display: 'flex', gap: '1.5rem', flexWrap: 'wrap', alignItems: 'flex-start' }}>
        <dl class="facts" style={{ flex: '1 1 24rem', minWidth: 0 }}>
          <dt>Status</dt><dd><Status status={m.status} /></dd>
          <dt>Format</dt><dd>{m.format}</dd>
          <dt>Trigger</dt><dd>{triggerText(m.trigger)}</dd>
          <dt>Audience</dt><dd>{m.audience ? <code>{JSON.stringify(m.audience)}</code> : 'everyone'}</dd>
          <dt>Priority</dt><dd>{m.priority}</dd>
          <dt>Dates</dt><dd>{datesText(m)}</dd>
          <dt>Capping</dt><dd>{m.capping ? [m.capping.max_displays && `${m.capping.max_displays} displays per person`, m.capping.min_interval_seconds && `${m.capping.min_interval_seconds} s apart`].filter(Boolean).join(', ') : 'none of its own'}</dd>
          <dt>Labels</dt><dd>{m.labels.join(', ') || '—'}</dd>
          <dt>Inbox</dt><dd>{m.inbox ? 'kept in the inbox' : 'no'}</dd>
          <dt>Recheck</dt><dd>{m.recheck ? 'yes, before each display' : 'no'}</dd>
          <dt>Version</dt><dd>{m.version}</dd>
          <dt>Started</dt><dd>{when(m.started_at)}</dd>
          <dt>Stopped</dt><dd>{when(m.stopped_at)}</dd>
        </dl>
        <div style={{ flex: '0 1 18rem', minWidth: '12rem' }}><InAppPreview format={m.format} content={m.content as PreviewContent} /></div>
      </div>
      <h2>Figures{m.status === 'running' ? ' (refreshing)' : ''}</h2>
      {stats && (<>
        <dl class="tiles" aria-label="Figures">
          {figures.map((f) => <div class="tile"><dt>{f.label}</dt><dd class="figure">{(stats[f.key] as number).toLocaleString()}</dd></div>)}
          <div class="tile"><dt>Click rate</dt><dd class="figure">{rate(stats.click_rate)}</dd><dd class="help">unique clicks over unique impressions</dd></div>
        </dl>
        {stats.days.length === 0 ? <Empty>No impression, click or dismissal reported yet.</Empty> : (
          <div class="scroll">
            <table class="figures">
              <caption class="visually-hidden">Figures by UTC day</caption>
              <thead><tr><th scope="col">Day (UTC)</th>{figures.map((f) => <th scope="col">{f.label}</th>)}</tr></thead>
              <tbody>{stats.days.map((d) => <tr><th scope="row">{d.day}</th>{figures.map((f) => <td>{(d[f.key as keyof typeof d] as number).toLocaleString()}</td>)}</tr>)}</tbody>
            </table>
          </div>
        )}
      </>)}
    </Page>
  );
}
