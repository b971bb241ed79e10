/** The project's operators and their roles; admins add people and change roles. */
import { useEffect, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import { can, project, session, type Role } from '../state.js';
import { Empty, Field, Page, Problem, Select } from '../ui.js';

type Member = { id: string; email: string; name: string; instance_owner: boolean; role: Role };
const roles = ['viewer', 'editor', 'admin', 'owner'] as const;

export function Operators() {
  const [members, setMembers] = useState<Member[]>();
  const [problem, setProblem] = useState<ApiProblem>();
  const admin = can('admin');
  const load = async () => {
    const r = await api.GET('/v1/dashboard/operators');
    if (r.data) setMembers(r.data.operators as Member[]); else setProblem(problemOf(r.error));
  };
  useEffect(() => { if (admin) void load(); }, [project.value?.id, admin]);
  if (!admin) return <Page title="Operators"><Empty>The project's operators are managed by its admins and owners.</Empty></Page>;

  const add = async (e: SubmitEvent) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const f = new FormData(form);
    const r = await api.POST('/v1/dashboard/operators', {
      body: { email: String(f.get('email')), name: String(f.get('name') ?? ''), password: String(f.get('password')), role: String(f.get('role')) as Role },
    });
    if (!r.response.ok) return setProblem(problemOf(r.error));
    setProblem(undefined);
    form.reset();
    await load();
  };
  const setRole = async (id: string, role: Role) => {
    const r = await api.PUT('/v1/dashboard/operators/{id}/role', { params: { path: { id } }, body: { role } });
    if (!r.response.ok) setProblem(problemOf(r.error)); else await load();
  };
  const me = session.value?.operator.id;
  return (
    <Page title="Operators">
      <Problem problem={problem} />
      {members && (
        <table>
          <caption class="visually-hidden">Operators of this project</caption>
          <thead><tr><th scope="col">Email</th><th scope="col">Name</th><th scope="col">Role</th></tr></thead>
          <tbody>{members.map((m) => (
            <tr key={m.id}>
              <td>{m.email}</td><td>{m.name || '—'}</td>
              <td>{m.instance_owner || m.id === me ? m.role : (
                <select aria-label={`Role of ${m.email}`} value={m.role} onChange={(e) => setRole(m.id, (e.currentTarget as HTMLSelectElement).value as Role)}>
                  {roles.map((r) => <option value={r}>{r}</option>)}
                </select>
              )}</td>
            </tr>
          ))}</tbody>
        </table>
      )}
      <h2>Add an operator</h2>
      <form class="inline" onSubmit={add}>
        <Field label="Email" name="email" type="email" required />
        <Field label="Name" name="name" />
        <Field label="First password" name="password" type="password" required minLength={8} autoComplete="new-password" />
        <Select label="Role" name="role" options={can('owner') ? roles : roles.slice(0, 3)} />
        <button type="submit">Add</button>
      </form>
    </Page>
  );
}
