/**
 * An automation's editor (editors): a new one, or a draft or live one (a changed definition is a
 * new version: new entries take it, running journeys finish on theirs). The trigger, the audience,
 * the entry rules and exit events, then the steps as a list: added by kind, moved up or down,
 * removed, each with its kind's fields. A JSON view edits the whole definition, for what the form
 * does not cover. The server checks everything and names the path of what it refuses; that reason
 * is shown beside the field (automation-fields.tsx).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import type { paths } from '../api/openapi.js';
import { can, project } from '../state.js';
import { Empty, Page, Problem } from '../ui.js';
import { errorPath, freshId, getAt, isObj, kindNames, newStep, obj, setIn, stepKinds, stepsOf, str, type Obj, type StepKind } from './automation-json.js';
import { Choice, JsonArea, Line, Refusal, useRefusal } from './automation-fields.js';
import { StepEditor } from './automation-step-editor.js';

type View = paths['/v1/automations/{id}']['get']['responses'][200]['content']['application/json'];

export function AutomationEditor({ id }: { id?: string }) {
  const [automation, setAutomation] = useState<View>();
  const [problem, setProblem] = useState<ApiProblem>();
  useEffect(() => {
    if (!id) return;
    void api.GET('/v1/automations/{id}', { params: { path: { id } } }).then((r) => {
      if (r.data) setAutomation(r.data); else setProblem(problemOf(r.error));
    });
  }, [id, project.value?.id]);
  const title = id ? 'Edit automation' : 'New automation';
  if (!can('editor')) return <Page title={title}><Empty>Automations are written by the project's editors, admins and owners.</Empty></Page>;
  if (id && !automation) return <Page title={title}><Problem problem={problem} /></Page>;
  return (
    <Page title={title} actions={<a href={id ? `#/automations/${id}` : '#/automations'}>Cancel</a>}>
      {automation?.state === 'live' && <p class="hint">This automation is live: saving a changed journey makes version {automation.version + 1}, which new entries take; running journeys finish on theirs.</p>}
      <EditorForm key={automation?.id ?? 'new'} automation={automation} />
    </Page>
  );
}

const blank: Obj = { trigger: { type: 'event', event: '' }, steps: [newStep('send', 'send-1')] };

function EditorForm({ automation }: { automation: View | undefined }) {
  const [name, setName] = useState(automation?.name ?? '');
  const [def, setDef] = useState<Obj>(automation?.definition ?? blank);
  // Stable keys for the step editors, so moving a step keeps its fields' state with it.
  const nextKey = useRef(0);
  const [keys, setKeys] = useState<number[]>(() => stepsOf(def).map(() => nextKey.current++));
  const [json, setJson] = useState<string>();
  const [jsonBad, setJsonBad] = useState<string>();
  const [newKind, setNewKind] = useState<StepKind>('wait');
  const [problem, setProblem] = useState<ApiProblem>();
  // The refused node and its value then: once that value changes, the reason no longer stands beside it.
  const [refusal, setRefusal] = useState<{ path: string; reason: string; was: string }>();
  const [busy, setBusy] = useState(false);
  const steps = stepsOf(def);
  const set = (path: (string | number)[], v: unknown) => setDef((d) => setIn(d, path, v) as Obj);
  const setSteps = (next: Obj[], nextKeys: number[]) => { setDef((d) => ({ ...d, steps: next })); setKeys(nextKeys); };

  const toJson = () => { setJson(JSON.stringify(def, null, 2)); setJsonBad(undefined); };
  const toForm = () => {
    try {
      const parsed: unknown = JSON.parse(json ?? '');
      if (!isObj(parsed)) throw new Error('not an object');
      setDef(parsed);
      setKeys(stepsOf(parsed).map(() => nextKey.current++));
      setJson(undefined);
    } catch {
      setJsonBad('The definition is not a JSON object yet: fix it, or it cannot go back to the form.');
    }
  };

  const save = async (start: boolean) => {
    let definition = def;
    if (json !== undefined) {
      try { definition = JSON.parse(json) as Obj; } catch { return setJsonBad('The definition is not JSON: fix it before saving.'); }
    }
    setBusy(true);
    let r: { data?: View; error?: unknown };
    if (automation) {
      const changed = JSON.stringify(definition) !== JSON.stringify(automation.definition);
      r = await api.PATCH('/v1/automations/{id}', { params: { path: { id: automation.id } }, body: { name, ...(changed ? { definition } : {}) } });
      if (r.data && start && r.data.state === 'draft') r = await api.POST('/v1/automations/{id}/start', { params: { path: { id: automation.id } } });
    } else {
      r = await api.POST('/v1/automations', { body: { name, definition, start } });
    }
    setBusy(false);
    if (!r.data) {
      const p = problemOf(r.error);
      setProblem(p);
      const at = errorPath(p.message);
      setRefusal(at && { ...at, was: JSON.stringify(getAt(definition, at.path) ?? null) });
      return;
    }
    location.hash = `#/automations/${r.data.id}`;
  };

  const trigger = obj(def.trigger);
  const entry = obj(def.entry);
  const exitNames = (Array.isArray(def.exit_on) ? def.exit_on.map(obj) : []).map((e) => str(e.event));
  return (
    <Refusal.Provider value={refusal && JSON.stringify(getAt(def, refusal.path) ?? null) === refusal.was ? refusal : undefined}>
      <form aria-label="Automation" onSubmit={(e) => { e.preventDefault(); void save(false); }}>
        <Line label="Name" path="name" value={name} required onValue={setName} />
        <div class="actions">
          {json === undefined
            ? <button type="button" onClick={toJson}>Edit as JSON</button>
            : <button type="button" onClick={toForm}>Back to the form</button>}
        </div>
        {json !== undefined ? (<>
          <div class="field">
            <label for="automation-json">Definition (JSON)</label>
            <textarea id="automation-json" rows={24} value={json} aria-describedby="automation-json-hint"
              onInput={(e) => setJson((e.currentTarget as HTMLTextAreaElement).value)} />
            <small id="automation-json-hint">The whole journey, as docs/automations.md describes it: everything the form edits, and what it does not (localized content, filters on exit events…).</small>
          </div>
          {jsonBad && <p class="problem" role="alert">{jsonBad}</p>}
        </>) : (<>
          <fieldset><legend>What starts a journey</legend>
            <Choice label="Trigger" path="trigger.type" value={str(trigger.type)} options={[['event', 'an event'], ['api', 'an API call only']]}
              onValue={(v) => set(['trigger'], v === 'api' ? { type: 'api' } : { type: 'event', event: '' })} />
            {trigger.type === 'event' && (<>
              <Line label="Trigger event" path="trigger.event" value={str(trigger.event)} onValue={(v) => set(['trigger', 'event'], v)} hint="The event's name, as the app or the API stores it." />
              <JsonArea label="Trigger event filter (JSON, optional)" path="trigger.where" value={trigger.where} onValue={(v) => set(['trigger', 'where'], v)}
                hint={'Conditions on its attributes, e.g. [{"attribute": "total", "gte": 20}].'} />
            </>)}
            <p class="hint">Every live automation also takes entries by API call (POST /v1/automations/ID/entries).</p>
            <JsonArea label="Audience (a targeting query, JSON, optional)" path="audience" value={def.audience} onValue={(v) => set(['audience'], v)}
              hint="Who may enter; empty: every profile." />
            <label class="check"><input type="checkbox" checked={def.recheck_after_wait !== false}
              onChange={(e) => set(['recheck_after_wait'], (e.currentTarget as HTMLInputElement).checked ? undefined : false)} /> Check the audience again after each wait</label>
          </fieldset>
          <EntryRules entry={entry} set={set} />
          <Line label="Exit on events" path="exit_on" value={exitNames.join(', ')}
            onValue={(v) => {
              const names = v.split(/[\s,]+/).filter(Boolean);
              const kept = Array.isArray(def.exit_on) ? def.exit_on.map(obj) : [];
              set(['exit_on'], names.length ? names.map((n) => kept.find((k) => k.event === n) ?? { event: n }) : undefined);
            }} hint="Event names, separated by commas: one of them ends the journey at once, a wait included." />
          <h2>Steps</h2>
          <ol class="flow">
            {steps.map((s, i) => (
              <StepEditor key={keys[i]} step={s} index={i} count={steps.length} later={steps.slice(i + 1).map((x) => str(x.id))}
                onChange={(next) => setSteps(steps.map((x, j) => (j === i ? next : x)), keys)}
                onKind={(k) => setSteps(steps.map((x, j) => (j === i ? newStep(k, str(x.id)) : x)), keys)}
                onMove={(by) => {
                  const order = steps.map((_, j) => j);
                  [order[i], order[i + by]] = [order[i + by]!, order[i]!];
                  setSteps(order.map((j) => steps[j]!), order.map((j) => keys[j]!));
                }}
                onRemove={() => setSteps(steps.filter((_, j) => j !== i), keys.filter((_, j) => j !== i))} />
            ))}
          </ol>
          <div class="inline">
            <Choice label="New step kind" path="(new step)" value={newKind} options={stepKinds.map((k) => [k, kindNames[k]] as const)} onValue={(v) => setNewKind(v as StepKind)} />
            <button type="button" disabled={steps.length >= 100} onClick={() => setSteps([...steps, newStep(newKind, freshId(newKind, steps))], [...keys, nextKey.current++])}>Add step</button>
          </div>
        </>)}
        <Problem problem={problem} />
        <div class="actions">
          <button type="submit" disabled={busy}>{automation ? 'Save' : 'Save draft'}</button>
          {(!automation || automation.state === 'draft') && <button type="button" disabled={busy} onClick={() => save(true)}>Save and start</button>}
        </div>
      </form>
    </Refusal.Provider>
  );
}

function EntryRules({ entry, set }: { entry: Obj; set: (path: (string | number)[], v: unknown) => void }) {
  const refused = useRefusal('entry');
  const num = (v: string) => (v === '' ? undefined : Number(v));
  return (
    <fieldset><legend>Who may enter again</legend>
      <label class="check"><input type="checkbox" checked={entry.reentry === true} aria-invalid={refused ? 'true' : undefined}
        onChange={(e) => set(['entry', 'reentry'], (e.currentTarget as HTMLInputElement).checked || undefined)} /> A profile may enter again once its journey ended</label>
      {entry.reentry === true && (<div class="inline">
        <Line label="Grace period (seconds)" path="entry.grace_period_seconds" type="number" min={0}
          value={typeof entry.grace_period_seconds === 'number' ? String(entry.grace_period_seconds) : ''} onValue={(v) => set(['entry', 'grace_period_seconds'], num(v))} />
        <Line label="Entries per profile at most" path="entry.max_entries" type="number" min={1}
          value={typeof entry.max_entries === 'number' ? String(entry.max_entries) : ''} onValue={(v) => set(['entry', 'max_entries'], num(v))} hint="Empty: no limit." />
      </div>)}
      {refused && <small class="field-error">Refused: {refused}</small>}
    </fieldset>
  );
}
