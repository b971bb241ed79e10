/**
 * In-app messages (docs/in-app.md): the list, by status and paged (#/in-app), with each one's
 * impressions and clicks from its stats; a new one (#/in-app/new, in-app-editor.tsx); one's page
 * with start, stop and its figures (#/in-app/ID, in-app-report.tsx); its editor (#/in-app/ID/edit).
 */
import { useEffect, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import { can, project } from '../state.js';
import { Empty, Page, Problem, Status } from '../ui.js';
import { InAppEditor, type InAppMessage } from './in-app-editor.js';
import { datesText, InAppReport, rate, triggerText, type InAppStats } from './in-app-report.js';

const statuses: readonly InAppMessage['status'][] = ['draft', 'running', 'stopped'];

export function InApp({ arg }: { arg: string }) {
  const [id = '', sub] = arg.split('/');
  if (id === 'new') return <InAppEditor />;
  if (id && sub === 'edit') return <InAppEditor id={id} />;
  if (id) return <InAppReport id={id} />;
  return <InAppList />;
}

function InAppList() {
  const [messages, setMessages] = useState<InAppMessage[]>();
  const [stats, setStats] = useState<Record<string, InAppStats>>({});
  const [cursor, setCursor] = useState<string | null>(null);
  const [status, setStatus] = useState<InAppMessage['status'] | ''>('');
  const [problem, setProblem] = useState<ApiProblem>();
  const load = async (after?: string) => {
    const r = await api.GET('/v1/in-app-messages', { params: { query: { limit: 50, ...(status ? { status } : {}), ...(after ? { cursor: after } : {}) } } });
    if (!r.data) return setProblem(problemOf(r.error));
    setProblem(undefined);
    setMessages((m) => (after ? [...(m ?? []), ...r.data.messages] : r.data.messages));
    setCursor(r.data.next_cursor);
    // One stats read per message shown (the API has no list of stats): a page is 50 at most.
    const read = await Promise.all(r.data.messages.map(async (m) => [m.id, (await api.GET('/v1/stats/in-app/{id}', { params: { path: { id: m.id } } })).data] as const));
    setStats((s) => ({ ...s, ...Object.fromEntries(read.filter((x): x is readonly [string, InAppStats] => x[1] !== undefined)) }));
  };
  useEffect(() => { void load(); }, [project.value?.id, status]);
  return (
    <Page title="In-app messages" actions={<div class="actions">
      {can('editor') && <a href="#/in-app/new">New in-app message</a>}
      <button onClick={() => load()}>Refresh</button>
    </div>}>
      <div class="field">
        <label for="in-app-status">Status</label>
        <select id="in-app-status" value={status} onChange={(e) => setStatus((e.currentTarget as HTMLSelectElement).value as InAppMessage['status'] | '')}>
          <option value="">every status</option>
          {statuses.map((s) => <option value={s}>{s}</option>)}
        </select>
      </div>
      <Problem problem={problem} />
      {messages && (messages.length === 0 ? <Empty>No in-app message{status ? ` ${status}` : ''} in this project.</Empty> : (
        <div class="scroll">
          <table>
            <caption class="visually-hidden">In-app messages, oldest first</caption>
            <thead><tr>
              <th scope="col">Name</th><th scope="col">Format</th><th scope="col">Status</th><th scope="col">Priority</th>
              <th scope="col">Dates</th><th scope="col">Trigger</th><th scope="col">Impressions</th><th scope="col">Clicks</th><th scope="col">Click rate</th>
            </tr></thead>
            <tbody>{messages.map((m) => {
              const s = stats[m.id];
              return (
                <tr key={m.id}>
                  <td><a href={`#/in-app/${m.id}`}>{m.name}</a></td><td>{m.format}</td><td><Status status={m.status} /></td><td>{m.priority}</td>
                  <td>{datesText(m)}</td><td>{triggerText(m.trigger)}</td>
                  <td>{s ? s.impressions.toLocaleString() : '—'}</td><td>{s ? s.clicks.toLocaleString() : '—'}</td><td>{rate(s?.click_rate)}</td>
                </tr>
              );
            })}</tbody>
          </table>
        </div>
      ))}
      {cursor && <button onClick={() => load(cursor)}>More in-app messages</button>}
    </Page>
  );
}
