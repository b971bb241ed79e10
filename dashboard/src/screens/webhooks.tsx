/**
 * Webhook endpoints (admins, like the API: docs/webhooks.md): created with the event types they
 * want, their signing secret shown once (at creation and on rotation), enabled or disabled,
 * deleted; one endpoint's delivery log (status and latency of every attempt, newest first) and a
 * replay of what it missed in a time range.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import type { paths } from '../api/openapi.js';
import { comingEventTypes, webhookEventTypes } from '../api/webhook-event-types.js';
import { can, project } from '../state.js';
import { Empty, Field, instantOf, Page, Problem, Status, when } from '../ui.js';

type Endpoint = paths['/v1/webhooks']['get']['responses'][200]['content']['application/json']['webhooks'][number];
type Attempt = paths['/v1/webhooks/{id}/attempts']['get']['responses'][200]['content']['application/json']['attempts'][number];

export function Webhooks() {
  const [endpoints, setEndpoints] = useState<Endpoint[]>();
  const [open, setOpen] = useState<Endpoint>();
  const [secret, setSecret] = useState<{ url: string; secret: string }>();
  const [problem, setProblem] = useState<ApiProblem>();
  const [notice, setNotice] = useState<string>();
  const load = async () => {
    const r = await api.GET('/v1/webhooks');
    if (r.data) setEndpoints(r.data.webhooks); else setProblem(problemOf(r.error));
  };
  useEffect(() => { setOpen(undefined); setSecret(undefined); if (can('admin')) void load(); }, [project.value?.id]);
  if (!can('admin')) return <Page title="Webhooks"><Empty>Webhook endpoints are managed by the project's admins and owners.</Empty></Page>;
  const ok = (r: { response: Response; error?: unknown }, message?: string) => {
    if (!r.response.ok) { setProblem(problemOf(r.error)); return false; }
    setProblem(undefined);
    setNotice(message);
    return true;
  };

  const create = async (e: SubmitEvent) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const f = new FormData(form);
    const description = String(f.get('description') ?? '').trim();
    const r = await api.POST('/v1/webhooks', {
      body: { url: String(f.get('url')).trim(), event_types: f.getAll('event_types').map(String), ...(description ? { description } : {}) },
    });
    if (!ok(r) || !r.data) return;
    setSecret({ url: r.data.url, secret: r.data.secret });
    form.reset();
    await load();
  };
  const rotate = async (ep: Endpoint) => {
    const r = await api.POST('/v1/webhooks/{id}/rotate-secret', { params: { path: { id: ep.id } } });
    if (!ok(r, `The previous secret of ${ep.url} keeps signing until ${when(r.data?.previous_secret_expires_at)}.`) || !r.data) return;
    setSecret({ url: ep.url, secret: r.data.secret });
    await load();
  };
  const setEnabled = async (ep: Endpoint, enabled: boolean) => {
    const r = await api.PATCH('/v1/webhooks/{id}', { params: { path: { id: ep.id } }, body: { enabled } });
    if (ok(r, `${ep.url} ${enabled ? 'enabled' : 'disabled'}.`)) await load();
  };
  const remove = async (ep: Endpoint) => {
    const r = await api.DELETE('/v1/webhooks/{id}', { params: { path: { id: ep.id } } });
    if (ok(r, `${ep.url} deleted.`)) { if (open?.id === ep.id) setOpen(undefined); await load(); }
  };

  return (
    <Page title="Webhooks">
      {secret && (
        <div class="notice" role="status">
          <p>The signing secret of {secret.url}, shown this once: store it now.</p>
          <code class="secret" aria-label="The signing secret">{secret.secret}</code>
        </div>
      )}
      {notice && <p class="notice" role="status">{notice}</p>}
      <Problem problem={problem} />
      {endpoints && (endpoints.length === 0 ? <Empty>No webhook endpoint yet.</Empty> : (
        <table>
          <caption class="visually-hidden">Webhook endpoints</caption>
          <thead><tr><th scope="col">URL</th><th scope="col">Events</th><th scope="col">State</th><th scope="col">Created</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody>{endpoints.map((ep) => (
            <tr key={ep.id}>
              <td><code>{ep.url}</code>{ep.description && <small> · {ep.description}</small>}</td>
              <td>{ep.event_types.join(', ') || 'every type'}</td>
              <td><Status status={ep.enabled ? 'enabled' : 'disabled'} />{ep.disabled_reason && <small> {ep.disabled_reason}</small>}
                {ep.failing_since && <small> failing since {when(ep.failing_since)}</small>}</td>
              <td>{when(ep.created_at)}</td>
              <td class="actions">
                <button onClick={() => setOpen(ep)} aria-label={`Delivery log of ${ep.url}`}>Delivery log</button>
                <button onClick={() => rotate(ep)} aria-label={`Rotate secret of ${ep.url}`}>Rotate secret</button>
                <button onClick={() => setEnabled(ep, !ep.enabled)} aria-label={`${ep.enabled ? 'Disable' : 'Enable'} ${ep.url}`}>{ep.enabled ? 'Disable' : 'Enable'}</button>
                <button class="danger" onClick={() => remove(ep)} aria-label={`Delete ${ep.url}`}>Delete</button>
              </td>
            </tr>
          ))}</tbody>
        </table>
      ))}
      {open && <DeliveryLog key={open.id} endpoint={open} />}
      <h2>New endpoint</h2>
      <form onSubmit={create} aria-label="New webhook endpoint">
        <Field label="Endpoint URL" name="url" type="url" required maxLength={2048} placeholder="https://example.com/herald" />
        <Field label="Description" name="description" maxLength={2000} />
        <fieldset><legend>Event types (none: every type)</legend>
          {webhookEventTypes.map((t) => <label class="check"><input type="checkbox" name="event_types" value={t} /> {t}</label>)}
          {comingEventTypes.map((t) => <label class="check"><input type="checkbox" name="event_types" value={t} /> {t} <small>(sent by a later version)</small></label>)}
        </fieldset>
        <button type="submit">Create endpoint</button>
      </form>
    </Page>
  );
}

function DeliveryLog({ endpoint }: { endpoint: Endpoint }) {
  const [attempts, setAttempts] = useState<Attempt[]>();
  const [cursor, setCursor] = useState<string | null>(null);
  const [problem, setProblem] = useState<ApiProblem>();
  const [queued, setQueued] = useState<number>();
  const load = async (before?: string) => {
    const r = await api.GET('/v1/webhooks/{id}/attempts', { params: { path: { id: endpoint.id }, query: { limit: 50, ...(before ? { cursor: before } : {}) } } });
    if (!r.data) return setProblem(problemOf(r.error));
    setProblem(undefined);
    setAttempts((a) => (before ? [...(a ?? []), ...r.data.attempts] : r.data.attempts));
    setCursor(r.data.next_cursor);
  };
  useEffect(() => { void load(); }, [endpoint.id]);
  const replay = async (e: SubmitEvent) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const until = String(f.get('until') ?? '');
    const r = await api.POST('/v1/webhooks/{id}/replay', {
      params: { path: { id: endpoint.id } }, body: { since: instantOf(String(f.get('since'))), ...(until ? { until: instantOf(until) } : {}) },
    });
    if (!r.data) return setProblem(problemOf(r.error));
    setProblem(undefined);
    setQueued(r.data.queued);
  };
  return (
    <section class="card" aria-labelledby="webhook-log">
      <h2 id="webhook-log">Delivery log of {endpoint.url}</h2>
      <div class="actions"><button onClick={() => load()}>Refresh the log</button></div>
      <Problem problem={problem} />
      {attempts && (attempts.length === 0 ? <Empty>No delivery attempted to this endpoint yet.</Empty> : (
        <table>
          <caption class="visually-hidden">Attempts, newest first</caption>
          <thead><tr><th scope="col">At</th><th scope="col">Event</th><th scope="col">Attempt</th><th scope="col">Status</th><th scope="col">Latency</th><th scope="col">Error</th></tr></thead>
          <tbody>{attempts.map((a) => (
            <tr key={a.id}>
              <td>{when(a.created_at)}</td><td>{a.type} <small><code>{a.event_id}</code></small></td><td>{a.attempt}</td>
              <td><span class={`status ${a.status_code !== null && a.status_code < 300 ? 'ok' : 'bad'}`}>{a.status_code ?? 'no answer'}</span></td>
              <td>{a.latency_ms} ms</td><td>{a.error ?? '—'}</td>
            </tr>
          ))}</tbody>
        </table>
      ))}
      {cursor && <button onClick={() => load(cursor)}>Older attempts</button>}
      <h3>Replay</h3>
      <p class="hint">Sends again the events of the range this endpoint has not received: failed, or missed while disabled.</p>
      <form class="inline" onSubmit={replay} aria-label="Replay">
        <Field label="Since" name="since" type="datetime-local" required />
        <Field label="Until (empty: now)" name="until" type="datetime-local" />
        <button type="submit">Replay</button>
      </form>
      {queued !== undefined && <p role="status">{queued.toLocaleString()} event(s) queued again.</p>}
    </section>
  );
}
