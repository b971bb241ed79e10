/**
 * One automation: its state and totals (entered, active, completed, exited and not entered by
 * reason), start and stop, its versions (new entries take the current one; running journeys finish
 * on theirs, so each version's flow is drawn with its own counts), refreshed while it is live.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import type { paths } from '../api/openapi.js';
import { can, project } from '../state.js';
import { Empty, Page, Problem, Status, useEvery, when } from '../ui.js';
import { Flow } from './automation-flow.js';
import { describeTrigger, stepsOf } from './automation-json.js';

type View = paths['/v1/automations/{id}']['get']['responses'][200]['content']['application/json'];
type Version = paths['/v1/automations/{id}/versions']['get']['responses'][200]['content']['application/json']['versions'][number];

const byReason = (m: Record<string, number>): string => Object.entries(m).map(([k, n]) => `${n} ${k.replace(/_/g, ' ')}`).join(', ') || '0';

export function AutomationDetail({ id }: { id: string }) {
  const [view, setView] = useState<View>();
  const [versions, setVersions] = useState<Version[]>([]);
  const [shown, setShown] = useState<number>();
  const [problem, setProblem] = useState<ApiProblem>();
  const [busy, setBusy] = useState(false);
  const load = async () => {
    const r = await api.GET('/v1/automations/{id}', { params: { path: { id } } });
    if (!r.data) return setProblem(problemOf(r.error));
    setProblem(undefined);
    setView(r.data);
    if (!versions.some((v) => v.version === r.data.version)) {
      const v = await api.GET('/v1/automations/{id}/versions', { params: { path: { id }, query: { limit: 100 } } });
      if (v.data) setVersions(v.data.versions);
    }
  };
  useEffect(() => { setVersions([]); setShown(undefined); void load(); }, [id, project.value?.id]);
  useEvery(3000, view?.state === 'live', load);
  const act = async (action: 'start' | 'stop') => {
    setBusy(true);
    const r = action === 'start'
      ? await api.POST('/v1/automations/{id}/start', { params: { path: { id } } })
      : await api.POST('/v1/automations/{id}/stop', { params: { path: { id } } });
    setBusy(false);
    if (!r.data) return setProblem(problemOf(r.error));
    setProblem(undefined);
    setView(r.data);
  };
  if (!view) return <Page title="Automation"><Problem problem={problem} /></Page>;
  const version = shown ?? view.version;
  const definition = version === view.version ? view.definition : versions.find((v) => v.version === version)?.definition;
  const c = view.counts;
  return (
    <Page title={view.name} actions={<div class="actions">
      <a href="#/automations">All automations</a>
      {can('editor') && view.state !== 'stopped' && <a href={`#/automations/${id}/edit`}>Edit</a>}
      {can('editor') && view.state === 'draft' && <button disabled={busy} onClick={() => act('start')}>Start</button>}
      {can('editor') && view.state !== 'stopped' && (
        <button class="danger" disabled={busy} onClick={() => {
          if (confirm('Stop for good? Nobody enters any more, and every running journey exits.')) void act('stop');
        }}>Stop</button>
      )}
      <button onClick={() => load()}>Refresh</button>
    </div>}>
      <Problem problem={problem} />
      <dl class="facts">
        <dt>State</dt><dd><Status status={view.state} /></dd>
        <dt>Version</dt><dd>{view.version} <small>(new entries take it)</small></dd>
        <dt>Trigger</dt><dd>{describeTrigger(view.definition)}</dd>
        <dt>Created</dt><dd>{when(view.created_at)}</dd>
        <dt>Started</dt><dd>{when(view.started_at)}</dd>
        <dt>Stopped</dt><dd>{when(view.stopped_at)}</dd>
      </dl>
      <h2>Journeys</h2>
      <dl class="tiles" aria-label="Journeys">
        {([['entered', String(c.entered)], ['active', String(c.active)], ['completed', String(c.completed)],
          ['exited', byReason(c.exited)], ['not entered', byReason(c.not_entered)]] as const).map(([k, v]) => (
          <div class="tile"><dt>{k}</dt><dd class={/^\d+$/.test(v) ? 'figure' : ''}>{v}</dd></div>
        ))}
      </dl>
      <h2>Steps</h2>
      {versions.length > 1 && (
        <div class="field">
          <label for="automation-version">Version shown</label>
          <select id="automation-version" value={String(version)} onChange={(e) => setShown(Number((e.currentTarget as HTMLSelectElement).value))}>
            {versions.map((v) => <option value={String(v.version)}>version {v.version}{v.version === view.version ? ' (current)' : ''}, {when(v.created_at)}</option>)}
          </select>
        </div>
      )}
      {definition ? <Flow steps={stepsOf(definition)} counts={c.steps} version={version} /> : <Empty>That version is not loaded.</Empty>}
    </Page>
  );
}
