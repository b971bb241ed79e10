/** The project's API keys: listed (never the keys), created (shown once), revoked. */
import { useEffect, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import { can, project } from '../state.js';
import { Empty, Page, Problem, when } from '../ui.js';

type Key = { id: string; kind: 'rest' | 'sdk'; created_at: string; revoked_at: string | null };

export function Keys() {
  const [keys, setKeys] = useState<Key[]>();
  const [created, setCreated] = useState<{ kind: string; key: string }>();
  const [problem, setProblem] = useState<ApiProblem>();
  const admin = can('admin');
  const load = async () => {
    const r = await api.GET('/v1/project/keys');
    if (r.data) setKeys(r.data.keys); else setProblem(problemOf(r.error));
  };
  useEffect(() => { if (admin) void load(); }, [project.value?.id, admin]);
  if (!admin) return <Page title="API keys"><Empty>API keys are managed by the project's admins and owners.</Empty></Page>;

  const create = async (kind: 'rest' | 'sdk') => {
    const r = await api.POST('/v1/project/keys', { body: { kind } });
    if (r.data) { setCreated({ kind, key: r.data.key }); await load(); } else setProblem(problemOf(r.error));
  };
  const revoke = async (id: string) => {
    const r = await api.POST('/v1/project/keys/{id}/revoke', { params: { path: { id } } });
    if (!r.response.ok) setProblem(problemOf(r.error)); else await load();
  };
  return (
    <Page title="API keys" actions={<div class="actions">
      <button onClick={() => create('rest')}>New REST key</button>
      <button onClick={() => create('sdk')}>New SDK key</button>
    </div>}>
      {created && (
        <div class="notice" role="status">
          <p>Your new {created.kind} key, shown this once: copy it now.</p>
          <code class="secret" aria-label="The new key">{created.key}</code>
        </div>
      )}
      <Problem problem={problem} />
      {keys && (keys.length === 0 ? <Empty>This project has no key.</Empty> : (
        <table>
          <caption class="visually-hidden">API keys</caption>
          <thead><tr><th scope="col">Kind</th><th scope="col">Id</th><th scope="col">Created</th><th scope="col">State</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody>{keys.map((k) => (
            <tr key={k.id}>
              <td>{k.kind}</td><td><code>{k.id}</code></td><td>{when(k.created_at)}</td>
              <td>{k.revoked_at ? `revoked ${when(k.revoked_at)}` : 'active'}</td>
              <td>{!k.revoked_at && <button class="danger" onClick={() => revoke(k.id)} aria-label={`Revoke the ${k.kind} key ${k.id}`}>Revoke</button>}</td>
            </tr>
          ))}</tbody>
        </table>
      ))}
    </Page>
  );
}
