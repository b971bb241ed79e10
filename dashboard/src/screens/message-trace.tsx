/** One message: each recipient's delivery, and "did this person get it, and if not, why?". */
import { useEffect, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import type { paths } from '../api/openapi.js';
import { project } from '../state.js';
import { Empty, Field, mask, Page, Problem, Status, when } from '../ui.js';

type View = paths['/v1/messages/{id}']['get']['responses'][200]['content']['application/json'];
type Delivery = View['recipients'][number];
type Trace = paths['/v1/messages/{id}/trace']['get']['responses'][200]['content']['application/json'];

function Deliveries({ rows, caption }: { rows: Delivery[]; caption: string }) {
  return (
    <table>
      <caption class="visually-hidden">{caption}</caption>
      <thead><tr>
        <th scope="col">Channel</th><th scope="col">To</th><th scope="col">Status</th><th scope="col">Reason</th>
        <th scope="col">Attempts</th><th scope="col">Last change</th>
      </tr></thead>
      <tbody>{rows.map((d) => (
        <tr key={d.delivery_id}>
          <td>{d.channel}</td><td><code>{mask(d.target, d.target_kind)}</code>{d.install_id && <small> · {d.install_id}</small>}</td>
          <td><Status status={d.status} /></td><td>{d.reason ?? '—'}</td><td>{d.attempts}</td><td>{when(d.updated_at)}</td>
        </tr>
      ))}</tbody>
    </table>
  );
}

export function MessageTrace({ id }: { id: string }) {
  const [view, setView] = useState<View>();
  const [trace, setTrace] = useState<Trace>();
  const [problem, setProblem] = useState<ApiProblem>();
  const load = async (cursor?: string) => {
    const r = await api.GET('/v1/messages/{id}', { params: { path: { id }, query: cursor ? { cursor } : {} } });
    if (!r.data) return setProblem(problemOf(r.error));
    setProblem(undefined);
    setView((v) => (cursor && v ? { ...r.data, recipients: [...v.recipients, ...r.data.recipients] } : r.data));
  };
  useEffect(() => { setTrace(undefined); void load(); }, [id, project.value?.id]);
  const ask = async (e: SubmitEvent) => {
    e.preventDefault();
    const customId = String(new FormData(e.currentTarget as HTMLFormElement).get('custom_id')).trim();
    const r = await api.GET('/v1/messages/{id}/trace', { params: { path: { id }, query: { custom_id: customId } } });
    setTrace(r.data);
    setProblem(r.data ? undefined : problemOf(r.error));
  };
  const counts = view ? Object.entries(view.counts).filter(([s, n]) => s !== 'total' && n > 0) : [];
  return (
    <Page title="Message" actions={<div class="actions"><a href="#/messages">All messages</a><button onClick={() => load()}>Refresh</button></div>}>
      <Problem problem={problem} />
      {view && (<>
        <dl class="facts">
          <dt>Message id</dt><dd><code>{view.message_id}</code></dd>
          <dt>Group</dt><dd>{view.group_id}</dd>
          <dt>Sent</dt><dd>{when(view.created_at)}</dd>
          <dt>State</dt><dd><Status status={view.state} /></dd>
          <dt>Deliveries</dt><dd>{view.counts.total}{counts.length > 0 && `: ${counts.map(([s, n]) => `${n} ${s}`).join(', ')}`}</dd>
        </dl>
        <h2>Did this person get it?</h2>
        <form class="inline" onSubmit={ask} role="search">
          <Field label="custom_id" name="custom_id" required />
          <button type="submit">Check</button>
        </form>
        {trace && (
          <div class="card" role="status">
            <h3><a href={`#/profiles/${encodeURIComponent(trace.custom_id)}`}>{trace.custom_id}</a>: <Status status={trace.verdict} /></h3>
            <ul class="reasons">{trace.reasons.map((r) => <li key={r.part}><strong>{r.part}</strong>: {r.reason}</li>)}</ul>
            {trace.deliveries.length > 0 && <Deliveries rows={trace.deliveries} caption={`Deliveries to ${trace.custom_id}`} />}
          </div>
        )}
        <h2>Recipients</h2>
        {view.recipients.length === 0
          ? <Empty>{view.state === 'accepted' ? 'The recipients are not resolved yet: refresh in a moment.' : 'This message reached no target.'}</Empty>
          : <Deliveries rows={view.recipients} caption="Each recipient's delivery" />}
        {view.next_cursor && <button onClick={() => load(view.next_cursor!)}>More recipients</button>}
      </>)}
    </Page>
  );
}
