/** The project's audit log: every change, who made it and when, newest first. */
import { useEffect, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import { can, project } from '../state.js';
import { Empty, Page, Problem, when } from '../ui.js';

type Entry = { id: string; at: string; operator_email: string; action: string; target: string | null; before?: unknown; after?: unknown };

export function Audit() {
  const [entries, setEntries] = useState<Entry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [problem, setProblem] = useState<ApiProblem>();
  const admin = can('admin');
  const load = async (after?: string) => {
    const r = await api.GET('/v1/dashboard/audit', { params: { query: after ? { cursor: after } : {} } });
    if (!r.data) return setProblem(problemOf(r.error));
    setEntries((e) => (after ? [...e, ...r.data.entries] : r.data.entries));
    setCursor(r.data.next_cursor);
  };
  useEffect(() => { if (admin) void load(); }, [project.value?.id, admin]);
  if (!admin) return <Page title="Audit log"><Empty>The audit log is open to the project's admins and owners.</Empty></Page>;
  return (
    <Page title="Audit log">
      <Problem problem={problem} />
      {entries.length === 0 ? <Empty>No change has been made in this project from the dashboard yet.</Empty> : (
        <table>
          <caption class="visually-hidden">Audit log</caption>
          <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Change</th></tr></thead>
          <tbody>{entries.map((e) => (
            <tr key={e.id}>
              <td>{when(e.at)}</td><td>{e.operator_email}</td><td>{e.action}{e.target ? ` ${e.target}` : ''}</td>
              <td><code>{e.before ? `${JSON.stringify(e.before)} → ` : ''}{e.after ? JSON.stringify(e.after) : ''}</code></td>
            </tr>
          ))}</tbody>
        </table>
      )}
      {cursor && <button onClick={() => load(cursor)}>Older entries</button>}
    </Page>
  );
}
