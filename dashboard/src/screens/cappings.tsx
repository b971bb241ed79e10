/**
 * Capping rules and quiet hours (docs/capping.md): how many messages a profile may get in a sliding
 * window, and the hours marketing waits for or skips. Listed for everyone; created, replaced and
 * deleted by editors. A change applies to every fan-out that starts after it.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import type { paths } from '../api/openapi.js';
import { can, project } from '../state.js';
import { Empty, Field, Page, Problem, Select } from '../ui.js';

type Rule = paths['/v1/cappings']['get']['responses'][200]['content']['application/json']['cappings'][number];
type Body = paths['/v1/cappings']['post']['requestBody']['content']['application/json'];
type Quiet = NonNullable<paths['/v1/quiet-hours']['get']['responses'][200]['content']['application/json']['quiet_hours']>;
const scopes: readonly Body['scope'][] = ['all', 'marketing', 'transactional', 'label', 'in_app'];
const ruleChannels = ['apns', 'fcm', 'webpush', 'email', 'sms', 'in_app'] as const;

const text = (f: FormData, name: string) => String(f.get(name) ?? '').trim();

function bodyOf(f: FormData): Body {
  const action = text(f, 'action') as Body['action'];
  const scope = text(f, 'scope') as Body['scope'];
  return {
    name: text(f, 'name'), scope, label: scope === 'label' ? text(f, 'label') : null,
    channels: ruleChannels.filter((c) => f.get(`ch_${c}`)),
    max_sends: Number(text(f, 'max_sends')), window_amount: Number(text(f, 'window_amount')), window_unit: text(f, 'window_unit') as Body['window_unit'],
    action, max_delay_minutes: action === 'defer' ? Number(text(f, 'max_delay_minutes')) : null, enabled: f.get('enabled') !== null,
  };
}

export function Cappings() {
  const [rules, setRules] = useState<Rule[]>();
  const [quiet, setQuiet] = useState<Quiet | null>();
  const [editing, setEditing] = useState<Rule | 'new'>();
  const [problem, setProblem] = useState<ApiProblem>();
  const [notice, setNotice] = useState<string>();
  const editor = can('editor');
  const load = async () => {
    const [r, q] = await Promise.all([api.GET('/v1/cappings'), api.GET('/v1/quiet-hours')]);
    if (r.data) setRules(r.data.cappings); else setProblem(problemOf(r.error));
    if (q.data) setQuiet(q.data.quiet_hours);
  };
  useEffect(() => { setEditing(undefined); void load(); }, [project.value?.id]);
  const done = async (r: { response: Response; error?: unknown }, message: string) => {
    if (!r.response.ok) return setProblem(problemOf(r.error));
    setProblem(undefined);
    setNotice(message);
    setEditing(undefined);
    await load();
  };
  const save = async (e: SubmitEvent) => {
    e.preventDefault();
    const body = bodyOf(new FormData(e.currentTarget as HTMLFormElement));
    if (editing && editing !== 'new') await done(await api.PUT('/v1/cappings/{id}', { params: { path: { id: editing.id } }, body }), `Rule ${body.name} saved.`);
    else await done(await api.POST('/v1/cappings', { body }), `Rule ${body.name} created.`);
  };
  const remove = async (rule: Rule) => done(await api.DELETE('/v1/cappings/{id}', { params: { path: { id: rule.id } } }), `Rule ${rule.name} deleted.`);
  const saveQuiet = async (e: SubmitEvent) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const body = { start: text(f, 'start'), end: text(f, 'end'), action: text(f, 'quiet_action') as Quiet['action'] };
    await done(await api.PUT('/v1/quiet-hours', { body }), `Quiet hours set: ${body.start} to ${body.end}.`);
  };
  const removeQuiet = async () => done(await api.DELETE('/v1/quiet-hours'), 'Quiet hours removed.');

  return (
    <Page title="Capping and quiet hours" actions={editor && <button onClick={() => setEditing('new')}>New capping rule</button>}>
      {notice && <p class="notice" role="status">{notice}</p>}
      <Problem problem={problem} />
      <h2>Capping rules</h2>
      {rules && (rules.length === 0 ? <Empty>No capping rule: a profile gets every message sent to it.</Empty> : (
        <table>
          <caption class="visually-hidden">Capping rules</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Counts</th><th scope="col">Channels</th><th scope="col">Cap</th><th scope="col">Over the cap</th><th scope="col">Enabled</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody>{rules.map((r) => (
            <tr key={r.id}>
              <td>{r.name}</td><td>{r.scope}{r.label ? ` "${r.label}"` : ''}</td><td>{r.channels.join(', ') || 'every channel'}</td>
              <td>{r.max_sends} per {r.window_amount} {r.window_unit}</td>
              <td>{r.action === 'defer' ? `defer, at most ${r.max_delay_minutes} min` : 'skip'}</td><td>{r.enabled ? 'yes' : 'no'}</td>
              <td class="actions">{editor && (<>
                <button onClick={() => setEditing(r)} aria-label={`Edit ${r.name}`}>Edit</button>
                <button class="danger" onClick={() => remove(r)} aria-label={`Delete ${r.name}`}>Delete</button>
              </>)}</td>
            </tr>
          ))}</tbody>
        </table>
      ))}
      {editing && <RuleForm key={editing === 'new' ? 'new' : editing.id} rule={editing === 'new' ? undefined : editing} onSubmit={save} onCancel={() => setEditing(undefined)} />}
      <h2>Quiet hours</h2>
      <p>{quiet ? `From ${quiet.start} to ${quiet.end} in each recipient's local time, marketing messages ${quiet.action === 'defer' ? 'wait for the end' : 'are skipped'}.` : 'None: marketing may go out at any hour.'}</p>
      {editor && quiet !== undefined && (
        <form class="inline" onSubmit={saveQuiet} aria-label="Quiet hours">
          <Field label="Quiet from" name="start" type="time" required defaultValue={quiet?.start ?? '21:00'} />
          <Field label="Quiet until" name="end" type="time" required defaultValue={quiet?.end ?? '08:00'} />
          <Select label="During quiet hours" name="quiet_action" options={['defer', 'skip']} defaultValue={quiet?.action ?? 'defer'} />
          <button type="submit">Save quiet hours</button>
          {quiet && <button type="button" class="danger" onClick={removeQuiet}>Remove quiet hours</button>}
        </form>
      )}
    </Page>
  );
}

function RuleForm({ rule, onSubmit, onCancel }: { rule: Rule | undefined; onSubmit: (e: SubmitEvent) => void; onCancel: () => void }) {
  const [scope, setScope] = useState<string>(rule?.scope ?? 'marketing');
  const [action, setAction] = useState<string>(rule?.action ?? 'skip');
  const heading = rule ? `Edit ${rule.name}` : 'New capping rule';
  return (
    <form class="card" onSubmit={onSubmit} aria-label={heading}>
      <h3>{heading}</h3>
      <Field label="Rule name" name="name" required maxLength={200} defaultValue={rule?.name ?? ''} />
      <Select label="Counts" name="scope" options={scopes} value={scope} onChange={(e) => setScope((e.currentTarget as HTMLSelectElement).value)} />
      {scope === 'label' && <Field label="Campaign label" name="label" required maxLength={100} defaultValue={rule?.label ?? ''} />}
      <fieldset><legend>Channels counted (none: every channel)</legend>
        {ruleChannels.map((c) => <label class="check"><input type="checkbox" name={`ch_${c}`} defaultChecked={rule?.channels.includes(c)} /> {c}</label>)}
      </fieldset>
      <div class="inline">
        <Field label="At most (messages)" name="max_sends" type="number" required min={1} max={1000} defaultValue={String(rule?.max_sends ?? 3)} />
        <Field label="Per window of" name="window_amount" type="number" required min={1} max={2160} defaultValue={String(rule?.window_amount ?? 7)} />
        <Select label="Window unit" name="window_unit" options={['days', 'hours']} defaultValue={rule?.window_unit ?? 'days'} />
      </div>
      <div class="inline">
        <Select label="Over the cap" name="action" options={['skip', 'defer']} value={action} onChange={(e) => setAction((e.currentTarget as HTMLSelectElement).value)} />
        {action === 'defer' && <Field label="Defer at most (minutes)" name="max_delay_minutes" type="number" required min={1} max={43200} defaultValue={String(rule?.max_delay_minutes ?? 1440)} />}
      </div>
      <label class="check"><input type="checkbox" name="enabled" defaultChecked={rule?.enabled ?? true} /> Enabled</label>
      <div class="actions">
        <button type="submit">{rule ? 'Save rule' : 'Create rule'}</button>
        <button type="button" class="danger" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}
