/** Custom audiences: named lists of custom_ids a segment's query names; created, filled, deleted (editors). */
import { useEffect, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import type { paths } from '../api/openapi.js';
import { can, project } from '../state.js';
import { Empty, Field, idList, Page, Problem, TextArea, when } from '../ui.js';

type Audience = paths['/v1/audiences']['get']['responses'][200]['content']['application/json']['audiences'][number];
type Detail = paths['/v1/audiences/{id}']['get']['responses'][200]['content']['application/json'];

export function Audiences() {
  const [audiences, setAudiences] = useState<Audience[]>();
  const [open, setOpen] = useState<Detail>();
  const [problem, setProblem] = useState<ApiProblem>();
  const [notice, setNotice] = useState<string>();
  const editor = can('editor');
  const load = async () => {
    const r = await api.GET('/v1/audiences', { params: { query: {} } });
    if (r.data) setAudiences(r.data.audiences); else setProblem(problemOf(r.error));
  };
  const show = async (id: string) => {
    const r = await api.GET('/v1/audiences/{id}', { params: { path: { id } } });
    if (r.data) setOpen(r.data); else setProblem(problemOf(r.error));
  };
  useEffect(() => { setOpen(undefined); void load(); }, [project.value?.id]);
  const done = (r: { response: Response; error?: unknown }, message?: string) => {
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
    const r = await api.POST('/v1/audiences', { body: { name: String(f.get('name')).trim(), ...(description ? { description } : {}) } });
    if (done(r, r.data && `Audience ${r.data.name} created: add its members next.`)) { form.reset(); await load(); if (r.data) await show(r.data.id); }
  };
  const addIds = async (e: SubmitEvent) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const ids = idList(String(new FormData(form).get('ids') ?? ''));
    if (!open || !ids.length) return;
    const r = await api.POST('/v1/audiences/{id}/members', { params: { path: { id: open.id } }, body: { add: ids } });
    if (done(r, `${ids.length} custom_id(s) accepted for ${open.name}; they count once applied (refresh).`)) { form.reset(); await show(open.id); }
  };
  const remove = async (a: Audience) => {
    const r = await api.DELETE('/v1/audiences/{id}', { params: { path: { id: a.id } } });
    if (done(r, `Audience ${a.name} deleted.`)) { if (open?.id === a.id) setOpen(undefined); await load(); }
  };

  return (
    <Page title="Audiences">
      {notice && <p class="notice" role="status">{notice}</p>}
      <Problem problem={problem} />
      {audiences && (audiences.length === 0 ? <Empty>No audience yet.</Empty> : (
        <table>
          <caption class="visually-hidden">Audiences</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Description</th><th scope="col">Id</th><th scope="col">Created</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody>{audiences.map((a) => (
            <tr key={a.id}>
              <td>{a.name}</td><td>{a.description ?? '—'}</td><td><code>{a.id}</code></td><td>{when(a.created_at)}</td>
              <td class="actions">
                <button onClick={() => show(a.id)} aria-label={`Open ${a.name}`}>Open</button>
                {editor && <button class="danger" onClick={() => remove(a)} aria-label={`Delete ${a.name}`}>Delete</button>}
              </td>
            </tr>
          ))}</tbody>
        </table>
      ))}
      {open && (
        <section class="card" aria-labelledby="audience-open">
          <h2 id="audience-open">{open.name}</h2>
          <dl class="facts">
            <dt>Members</dt><dd>{open.member_count.toLocaleString()}</dd>
            <dt>Changes in process</dt><dd>{open.pending_changes}</dd>
            <dt>Target it with</dt><dd><code>{JSON.stringify({ audience: open.id })}</code></dd>
          </dl>
          <div class="actions"><button onClick={() => show(open.id)}>Refresh</button></div>
          {editor && (
            <form onSubmit={addIds}>
              <TextArea label="custom_ids to add" name="ids" required rows={3} hint="One per line, or separated by commas; up to 10,000." />
              <button type="submit">Add to {open.name}</button>
            </form>
          )}
        </section>
      )}
      {editor && (<>
        <h2>New audience</h2>
        <form class="inline" onSubmit={create}>
          <Field label="Name" name="name" required maxLength={200} />
          <Field label="Description" name="description" maxLength={2000} />
          <button type="submit">Create audience</button>
        </form>
      </>)}
    </Page>
  );
}
