/**
 * Trigger automations (docs/automations.md): the list with each one's state, version and a summary
 * of its counts (#/automations), a new one (#/automations/new), one's journey drawn as a flow of
 * its steps with their counts, its versions, start and stop (#/automations/ID,
 * automation-detail.tsx), and its editor (#/automations/ID/edit, automation-editor.tsx).
 */
import { useEffect, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import type { paths } from '../api/openapi.js';
import { can, project } from '../state.js';
import { Empty, Page, Problem, Status, when } from '../ui.js';
import { AutomationDetail } from './automation-detail.js';
import { AutomationEditor } from './automation-editor.js';
import { describeTrigger, stepsOf } from './automation-json.js';

type Summary = paths['/v1/automations']['get']['responses'][200]['content']['application/json']['automations'][number];
type Counts = paths['/v1/automations/{id}']['get']['responses'][200]['content']['application/json']['counts'];
type State = Summary['state'];
const states: readonly State[] = ['draft', 'live', 'stopped'];
/** Rows a page holds: each row reads its automation's counts too. */
const pageSize = 20;

export function Automations({ arg }: { arg: string }) {
  const [id = '', sub] = arg.split('/');
  if (id === 'new') return <AutomationEditor />;
  if (id && sub === 'edit') return <AutomationEditor id={id} />;
  if (id) return <AutomationDetail key={id} id={id} />;
  return <AutomationList />;
}

/** The current version's totals in one line: what a list needs to tell a busy journey from an idle one. */
export function countsLine(c: Counts, version: number): string {
  const sent = c.steps.filter((s) => s.version === version).reduce((n, s) => n + s.sent, 0);
  const exited = Object.values(c.exited).reduce((n, x) => n + x, 0);
  return `${c.entered} entered · ${c.active} active · ${c.completed} completed · ${exited} exited · ${sent} sent (v${version})`;
}

function AutomationList() {
  const [rows, setRows] = useState<Summary[]>();
  const [counts, setCounts] = useState<Record<string, Counts>>({});
  const [cursor, setCursor] = useState<string | null>(null);
  const [state, setState] = useState<State | ''>('');
  const [problem, setProblem] = useState<ApiProblem>();
  const load = async (after?: string) => {
    const r = await api.GET('/v1/automations', { params: { query: { limit: pageSize, ...(state ? { state } : {}), ...(after ? { cursor: after } : {}) } } });
    if (!r.data) return setProblem(problemOf(r.error));
    setProblem(undefined);
    setRows((c) => (after ? [...(c ?? []), ...r.data.automations] : r.data.automations));
    setCursor(r.data.next_cursor);
    const read = await Promise.all(r.data.automations.map((a) => api.GET('/v1/automations/{id}', { params: { path: { id: a.id } } })));
    setCounts((c) => ({ ...c, ...Object.fromEntries(read.flatMap((x) => (x.data ? [[x.data.id, x.data.counts]] : []))) }));
  };
  useEffect(() => { void load(); }, [project.value?.id, state]);
  return (
    <Page title="Automations" actions={<div class="actions">
      {can('editor') && <a href="#/automations/new">New automation</a>}
      <button onClick={() => load()}>Refresh</button>
    </div>}>
      <div class="field">
        <label for="automation-state">State</label>
        <select id="automation-state" value={state} onChange={(e) => setState((e.currentTarget as HTMLSelectElement).value as State | '')}>
          <option value="">every state</option>
          {states.map((s) => <option value={s}>{s}</option>)}
        </select>
      </div>
      <Problem problem={problem} />
      {rows && (rows.length === 0 ? <Empty>No automation{state ? ` ${state}` : ''} in this project.</Empty> : (
        <table>
          <caption class="visually-hidden">Automations, oldest first</caption>
          <thead><tr>
            <th scope="col">Name</th><th scope="col">State</th><th scope="col">Version</th><th scope="col">Trigger</th>
            <th scope="col">Steps</th><th scope="col">Journeys</th><th scope="col">Started</th>
          </tr></thead>
          <tbody>{rows.map((a) => (
            <tr key={a.id}>
              <td><a href={`#/automations/${a.id}`}>{a.name}</a></td><td><Status status={a.state} /></td><td>{a.version}</td>
              <td>{describeTrigger(a.definition)}</td><td>{stepsOf(a.definition).length}</td>
              <td>{counts[a.id] ? countsLine(counts[a.id]!, a.version) : '…'}</td><td>{when(a.started_at)}</td>
            </tr>
          ))}</tbody>
        </table>
      ))}
      {cursor && <button onClick={() => load(cursor)}>More automations</button>}
    </Page>
  );
}
