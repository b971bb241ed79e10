/** One person as Herald holds them: found by custom_id or install_id; read-only but for marking their inbox's items read (profile-inbox.tsx). */
import { useEffect, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import type { paths } from '../api/openapi.js';
import { project } from '../state.js';
import { Empty, Field, json, Page, Problem, Select, when } from '../ui.js';
import { ProfileInbox } from './profile-inbox.js';

type View = paths['/v1/profiles/{custom_id}']['get']['responses'][200]['content']['application/json'];

export function Profiles({ arg }: { arg: string }) {
  const [view, setView] = useState<View>();
  const [problem, setProblem] = useState<ApiProblem>();
  const open = async (customId: string) => {
    const r = await api.GET('/v1/profiles/{custom_id}', { params: { path: { custom_id: customId } } });
    setView(r.data);
    setProblem(r.data ? undefined : problemOf(r.error));
  };
  const find = async (by: string, id: string) => {
    if (by === 'custom_id') return open(id);
    const r = await api.GET('/v1/installations/{install_id}', { params: { path: { install_id: id } } });
    if (!r.data) { setView(undefined); return setProblem(problemOf(r.error)); }
    const owner = r.data.installation.custom_id;
    if (owner) return open(owner);
    setView(undefined);
    setProblem({ code: 'anonymous_installation', message: `installation ${id} is not attached to any custom_id` });
  };
  useEffect(() => { if (arg) void open(arg); else setView(undefined); }, [arg, project.value?.id]);
  const submit = (e: SubmitEvent) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    void find(String(f.get('by')), String(f.get('id')).trim());
  };
  const p = view?.profile;
  return (
    <Page title="Profiles">
      <form class="inline" onSubmit={submit} role="search">
        <Select label="Find by" name="by" options={['custom_id', 'install_id']} />
        <Field label="Id" name="id" required defaultValue={arg} />
        <button type="submit">Find</button>
      </form>
      <Problem problem={problem} />
      {p && view && (<>
        <h2>{p.custom_id}</h2>
        <dl class="facts">
          <dt>Email</dt><dd>{p.email ?? '—'} <small>({p.email_subscription ?? 'no choice recorded'})</small></dd>
          <dt>Phone</dt><dd>{p.phone ?? '—'} <small>({p.sms_subscription ?? 'no choice recorded'})</small></dd>
          <dt>Language</dt><dd>{p.language ?? '—'}</dd>
          <dt>Region</dt><dd>{p.region ?? '—'}</dd>
          <dt>Time zone</dt><dd>{p.timezone ?? '—'}</dd>
          <dt>Created</dt><dd>{when(p.created_at)}</dd>
          <dt>Changed</dt><dd>{when(p.updated_at)}</dd>
        </dl>
        <h2>Attributes</h2>
        {Object.keys(p.attributes).length === 0 ? <Empty>No custom attribute.</Empty> : (
          <table>
            <caption class="visually-hidden">Attributes</caption>
            <thead><tr><th scope="col">Attribute</th><th scope="col">Value</th></tr></thead>
            <tbody>{Object.entries(p.attributes).map(([k, v]) => <tr key={k}><td>{k}</td><td><code>{json(v)}</code></td></tr>)}</tbody>
          </table>
        )}
        <h2>Installations</h2>
        {view.installations.length === 0 ? <Empty>No app or browser is attached to this profile.</Empty> : (
          <table>
            <caption class="visually-hidden">Installations</caption>
            <thead><tr><th scope="col">Install id</th><th scope="col">Platform</th><th scope="col">Push</th><th scope="col">App version</th><th scope="col">SDK version</th><th scope="col">Seen</th></tr></thead>
            <tbody>{view.installations.map((i) => (
              <tr key={i.install_id}>
                <td><code>{i.install_id}</code></td><td>{i.platform}</td><td>{i.push_token ? 'enabled' : 'not enabled'}</td>
                <td>{i.app_version ?? '—'}</td><td>{i.sdk_version ?? '—'}</td><td>{when(i.updated_at)}</td>
              </tr>
            ))}</tbody>
          </table>
        )}
        <h2>Recent events</h2>
        {view.recent_events.length === 0 ? <Empty>No event recorded.</Empty> : (
          <table>
            <caption class="visually-hidden">Recent events, newest first</caption>
            <thead><tr><th scope="col">Event</th><th scope="col">When</th><th scope="col">Attributes</th></tr></thead>
            <tbody>{view.recent_events.map((e) => (
              <tr key={e.id}><td>{e.name}</td><td>{when(e.time)}</td><td><code>{json(e.attributes)}</code></td></tr>
            ))}</tbody>
          </table>
        )}
        <ProfileInbox key={p.custom_id} customId={p.custom_id} />
      </>)}
      {!p && !problem && <Empty>Find a person by the custom_id your app gives them, or by one of their installations' install_id.</Empty>}
    </Page>
  );
}
