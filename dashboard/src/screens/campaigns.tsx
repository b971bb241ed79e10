/**
 * Campaigns: the list, by state and paged (#/campaigns), a new one (#/campaigns/new), one's report
 * (#/campaigns/ID, campaign-report.tsx) and its editor while it has not started (#/campaigns/ID/edit,
 * campaign-editor.tsx).
 */
import { useEffect, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import type { paths } from '../api/openapi.js';
import { can, project } from '../state.js';
import { Empty, Page, Problem, Status, when } from '../ui.js';
import { CampaignEditor } from './campaign-editor.js';
import { CampaignReport } from './campaign-report.js';

type Summary = paths['/v1/campaigns']['get']['responses'][200]['content']['application/json']['campaigns'][number];
type State = Summary['state'];
const states: readonly State[] = ['draft', 'scheduled', 'running', 'paused', 'stopped', 'finished'];

export function Campaigns({ arg }: { arg: string }) {
  const [id = '', sub] = arg.split('/');
  if (id === 'new') return <CampaignEditor />;
  if (id && sub === 'edit') return <CampaignEditor id={id} />;
  if (id) return <CampaignReport id={id} />;
  return <CampaignList />;
}

function CampaignList() {
  const [campaigns, setCampaigns] = useState<Summary[]>();
  const [cursor, setCursor] = useState<string | null>(null);
  const [state, setState] = useState<State | ''>('');
  const [problem, setProblem] = useState<ApiProblem>();
  const load = async (after?: string) => {
    const r = await api.GET('/v1/campaigns', { params: { query: { limit: 50, ...(state ? { state } : {}), ...(after ? { cursor: after } : {}) } } });
    if (!r.data) return setProblem(problemOf(r.error));
    setProblem(undefined);
    setCampaigns((c) => (after ? [...(c ?? []), ...r.data.campaigns] : r.data.campaigns));
    setCursor(r.data.next_cursor);
  };
  useEffect(() => { void load(); }, [project.value?.id, state]);
  return (
    <Page title="Campaigns" actions={<div class="actions">
      {can('editor') && <a href="#/campaigns/new">New campaign</a>}
      <button onClick={() => load()}>Refresh</button>
    </div>}>
      <div class="field">
        <label for="campaign-state">State</label>
        <select id="campaign-state" value={state} onChange={(e) => setState((e.currentTarget as HTMLSelectElement).value as State | '')}>
          <option value="">every state</option>
          {states.map((s) => <option value={s}>{s}</option>)}
        </select>
      </div>
      <Problem problem={problem} />
      {campaigns && (campaigns.length === 0 ? <Empty>No campaign{state ? ` ${state}` : ''} in this project.</Empty> : (
        <table>
          <caption class="visually-hidden">Campaigns, oldest first</caption>
          <thead><tr>
            <th scope="col">Name</th><th scope="col">State</th><th scope="col">Channels</th><th scope="col">Labels</th>
            <th scope="col">Created</th><th scope="col">Started</th><th scope="col">Finished</th>
          </tr></thead>
          <tbody>{campaigns.map((c) => (
            <tr key={c.id}>
              <td><a href={`#/campaigns/${c.id}`}>{c.name}</a></td><td><Status status={c.state} /></td>
              <td>{c.channels.join(' → ')}</td><td>{c.labels.join(', ') || '—'}</td>
              <td>{when(c.created_at)}</td><td>{when(c.started_at)}</td><td>{when(c.finished_at)}</td>
            </tr>
          ))}</tbody>
        </table>
      ))}
      {cursor && <button onClick={() => load(cursor)}>More campaigns</button>}
    </Page>
  );
}
