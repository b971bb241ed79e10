/**
 * One step of the automation editor: its id and kind, moved up or down or removed, and the fields
 * of its kind. Each control edits one node of the step's JSON, so fields the form does not show
 * (localized content, an email's html…) stay as they were; the JSON view edits those.
 */
import { channels, kindNames, obj, setIn, stepKinds, str, weekdays, type Obj, type StepKind } from './automation-json.js';
import { Area, Choice, Duration, JsonArea, Line, NextStep, useRefusal } from './automation-fields.js';

interface Props {
  step: Obj;
  index: number;
  count: number;
  /** Ids of the steps after this one: where its pointers may go. */
  later: string[];
  onChange: (step: Obj) => void;
  onKind: (kind: StepKind) => void;
  onMove: (by: -1 | 1) => void;
  onRemove: () => void;
}

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

export function StepEditor({ step, index, count, later, onChange, onKind, onMove, onRemove }: Props) {
  const at = `steps[${index}]`;
  const id = str(step.id);
  const kind = str(step.type) as StepKind;
  const set = (path: (string | number)[], v: unknown) => onChange(setIn(step, path, v) as Obj);
  const refused = useRefusal(at);
  const name = `step ${index + 1} (${id})`;
  return (
    <li class={`step-card editing${refused ? ' invalid' : ''}`}>
      <fieldset>
        <legend>Step {index + 1}: {kindNames[kind] ?? kind}</legend>
        <div class="actions">
          <button type="button" aria-label={`Move ${name} up`} disabled={index === 0} onClick={() => onMove(-1)}>↑ Up</button>
          <button type="button" aria-label={`Move ${name} down`} disabled={index === count - 1} onClick={() => onMove(1)}>↓ Down</button>
          <button type="button" class="danger" aria-label={`Remove ${name}`} disabled={count === 1} onClick={onRemove}>Remove</button>
        </div>
        <div class="inline">
          <Line label={`Step ${index + 1} id`} path={`${at}.id`} value={id} required onValue={(v) => set(['id'], v)} hint="Letters, digits, - and _; counts are kept by it." />
          <Choice label={`Step ${index + 1} kind`} path={`${at}.type`} value={kind} options={stepKinds.map((k) => [k, kindNames[k]] as const)} onValue={(v) => onKind(v as StepKind)} />
        </div>
        <KindFields step={step} at={at} n={index + 1} later={later} set={set} />
      </fieldset>
    </li>
  );
}

function KindFields({ step, at, n, later, set }: { step: Obj; at: string; n: number; later: string[]; set: (path: (string | number)[], v: unknown) => void }) {
  const l = (text: string) => `Step ${n}: ${text}`;
  switch (str(step.type)) {
    case 'send': {
      const chosen = list(step.channels);
      const content = obj(step.content);
      const toggle = (ch: string, on: boolean) => {
        const next = on ? [...chosen, ch] : chosen.filter((c) => c !== ch);
        let s = setIn(step, ['channels'], next) as Obj;
        if (!on) s = setIn(s, ['content', ch], undefined) as Obj;
        else if (content[ch] === undefined) s = setIn(s, ['content', ch], ch === 'email' ? { subject: '', text: '' } : ch === 'push' ? { title: '', body: '' } : { text: '' }) as Obj;
        set([], s);
      };
      const part = (ch: string) => obj(content[ch]);
      return (<>
        <fieldset><legend>{l('channels, in priority order')}</legend>
          {channels.map((ch) => (
            <label class="check"><input type="checkbox" checked={chosen.includes(ch)} onChange={(e) => toggle(ch, (e.currentTarget as HTMLInputElement).checked)} /> {l(ch)}</label>
          ))}
          <p class="hint">Each profile gets the first of these it can be reached on: {chosen.join(' → ') || 'none chosen'}.</p>
        </fieldset>
        {chosen.includes('push') && (<>
          <Line label={l('push title')} path={`${at}.content.push.title`} value={str(part('push').title)} onValue={(v) => set(['content', 'push', 'title'], v)} />
          <Area label={l('push body')} path={`${at}.content.push.body`} rows={2} value={str(part('push').body)} onValue={(v) => set(['content', 'push', 'body'], v)} />
          <label class="check"><input type="checkbox" checked={part('push').inbox === true}
            onChange={(e) => set(['content', 'push', 'inbox'], (e.currentTarget as HTMLInputElement).checked || undefined)} /> {l('keep the push in the inbox')}</label>
        </>)}
        {chosen.includes('email') && (<>
          <Line label={l('email subject')} path={`${at}.content.email.subject`} value={str(part('email').subject)} onValue={(v) => set(['content', 'email', 'subject'], v)} />
          <Area label={l('email text')} path={`${at}.content.email.text`} rows={4} value={str(part('email').text)} onValue={(v) => set(['content', 'email', 'text'], v)} />
        </>)}
        {chosen.includes('sms') && (
          <Area label={l('SMS text')} path={`${at}.content.sms.text`} rows={2} value={str(part('sms').text)} onValue={(v) => set(['content', 'sms', 'text'], v)} />
        )}
        <p class="hint">Texts may hold Liquid over the profile, and the trigger under <code>event</code>: <code>{'{{ event.attributes.sku }}'}</code>.</p>
        <NextStep label={l('then')} path={`${at}.next`} value={step.next} later={later} onValue={(v) => set(['next'], v)} />
      </>);
    }
    case 'wait': {
      const until = step.until !== undefined;
      const u = obj(step.until);
      const days = list(u.days);
      return (<>
        <Choice label={l('wait for')} path={at} value={until ? 'until' : 'duration'} options={[['duration', 'a length of time'], ['until', 'a time of day']]}
          onValue={(v) => set([], v === 'until' ? { ...setIn(step, ['duration'], undefined) as Obj, until: { time: '09:00' } } : { ...setIn(step, ['until'], undefined) as Obj, duration: { days: 1 } })} />
        {until ? (<>
          <Line label={l('until the time')} path={`${at}.until.time`} type="time" value={str(u.time)} onValue={(v) => set(['until', 'time'], v)} hint="On the profile's wall clock (its time zone, else the project's)." />
          <fieldset><legend>{l('on the days')}</legend>
            {weekdays.map((d) => (
              <label class="check"><input type="checkbox" checked={days.length === 0 || days.includes(d)}
                onChange={(e) => {
                  const on = (e.currentTarget as HTMLInputElement).checked;
                  const base = days.length === 0 ? [...weekdays] : days;
                  const next = weekdays.filter((w) => (w === d ? on : base.includes(w)));
                  set(['until', 'days'], next.length === 7 ? undefined : next);
                }} /> {l(d)}</label>
            ))}
          </fieldset>
        </>) : <Duration label={l('wait')} path={`${at}.duration`} value={step.duration} onValue={(v) => set(['duration'], v)} />}
        <NextStep label={l('then')} path={`${at}.next`} value={step.next} later={later} onValue={(v) => set(['next'], v)} />
      </>);
    }
    case 'wait_for_event':
      return (<>
        <Line label={l('event name')} path={`${at}.event`} value={str(step.event)} onValue={(v) => set(['event'], v)} />
        <JsonArea label={l('event filter (JSON, optional)')} path={`${at}.where`} value={step.where} onValue={(v) => set(['where'], v)}
          hint={'Conditions on the event\'s attributes, e.g. [{"attribute": "total", "gte": 20}].'} />
        <Duration label={l('timeout')} path={`${at}.timeout`} value={step.timeout} onValue={(v) => set(['timeout'], v)} />
        <NextStep label={l('when the event comes')} path={`${at}.next`} value={step.next} later={later} onValue={(v) => set(['next'], v)} />
        <NextStep label={l('after the timeout')} path={`${at}.timeout_next`} value={step.timeout_next} later={later} onValue={(v) => set(['timeout_next'], v)} />
      </>);
    case 'branch':
      return (<>
        <JsonArea label={l('condition (a targeting query, JSON)')} path={`${at}.condition`} value={step.condition} onValue={(v) => set(['condition'], v)}
          hint='Evaluated on the profile as it is then, e.g. {"attribute": "tier", "eq": "gold"}.' />
        <NextStep label={l('if it holds')} path={`${at}.then`} required value={step.then} later={later} onValue={(v) => set(['then'], v)} />
        <NextStep label={l('otherwise')} path={`${at}.else`} required value={step.else} later={later} onValue={(v) => set(['else'], v)} />
      </>);
    case 'split': {
      const ps = Array.isArray(step.paths) ? step.paths.map(obj) : [];
      return (<>
        {ps.map((p, k) => (
          <div class="inline">
            <Line label={l(`path ${k} share (%)`)} path={`${at}.paths[${k}].percent`} type="number" min={1} max={99}
              value={typeof p.percent === 'number' ? String(p.percent) : ''} onValue={(v) => set(['paths', k, 'percent'], v === '' ? undefined : Number(v))} />
            <NextStep label={l(`path ${k} goes to`)} path={`${at}.paths[${k}].next`} required value={p.next} later={later} onValue={(v) => set(['paths', k, 'next'], v)} />
            <button type="button" class="danger" disabled={ps.length <= 2} onClick={() => set(['paths'], ps.filter((_, j) => j !== k))}>{l(`remove path ${k}`)}</button>
          </div>
        ))}
        <button type="button" disabled={ps.length >= 10} onClick={() => set(['paths'], [...ps, { percent: 0, next: null }])}>{l('add a path')}</button>
        <p class="hint">Shares add up to 100.</p>
      </>);
    }
    case 'update_profile':
      return (<>
        <JsonArea label={l('attributes to set (JSON)')} path={`${at}.set`} value={step.set} onValue={(v) => set(['set'], v)} hint='e.g. {"onboarded": true}' />
        <Line label={l('attributes to remove')} path={`${at}.unset`} value={list(step.unset).join(', ')}
          onValue={(v) => set(['unset'], v.trim() ? v.split(/[\s,]+/).filter(Boolean) : undefined)} hint="Names, separated by commas." />
        <NextStep label={l('then')} path={`${at}.next`} value={step.next} later={later} onValue={(v) => set(['next'], v)} />
      </>);
    default:
      return <p class="hint">The journey ends here (counted as exited: exit step).</p>;
  }
}
