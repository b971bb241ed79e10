/**
 * A version of a journey drawn as a vertical flow: one card per step, in the definition's order
 * (pointers only go forward, so the list is the journey's order), each with its kind, its settings
 * and its counts for that version (entered, waiting now, sent, skipped and failed by reason, the
 * paths taken), and where it leads.
 */
import type { paths } from '../api/openapi.js';
import { json } from '../ui.js';
import { channels, describeDuration, describeNext, kindNames, obj, str, type Obj, type StepKind } from './automation-json.js';

type StepCounts = paths['/v1/automations/{id}']['get']['responses'][200]['content']['application/json']['counts']['steps'][number];

const byReason = (m: Record<string, number>): string => Object.entries(m).map(([k, n]) => `${n} ${k.replace(/_/g, ' ')}`).join(', ');

function Settings({ step, following }: { step: Obj; following: string | undefined }) {
  const rows: [string, preact.ComponentChildren][] = [];
  const next = (label: string, v: unknown) => rows.push([label, describeNext(v, following)]);
  switch (step.type) {
    case 'send': {
      const list = Array.isArray(step.channels) ? step.channels.map(String) : [];
      rows.push(['Channels', list.join(' → ') || '—']);
      const c = obj(step.content);
      for (const ch of channels) {
        if (!list.includes(ch)) continue;
        const part = obj(c[ch]);
        rows.push([ch === 'sms' ? 'SMS' : ch === 'push' ? 'Push' : 'Email', str(part.title) || str(part.subject) || str(part.text) || '—']);
      }
      next('Then', step.next);
      break;
    }
    case 'wait':
      if (step.until !== undefined) {
        const u = obj(step.until);
        rows.push(['Until', `${str(u.time)} in the profile's time zone${Array.isArray(u.days) ? `, on ${u.days.join(', ')}` : ''}`]);
      } else rows.push(['For', describeDuration(step.duration)]);
      next('Then', step.next);
      break;
    case 'wait_for_event':
      rows.push(['Event', <code>{str(step.event)}</code>]);
      if (step.where !== undefined) rows.push(['Where', <code>{json(step.where)}</code>]);
      rows.push(['At most', describeDuration(step.timeout)]);
      next('When it comes', step.next);
      next('After the timeout', step.timeout_next);
      break;
    case 'branch':
      rows.push(['Condition', <code>{json(step.condition)}</code>]);
      next('If it holds', step.then);
      next('Otherwise', step.else);
      break;
    case 'split':
      (Array.isArray(step.paths) ? step.paths.map(obj) : []).forEach((p, i) => rows.push([`Path ${i}`, `${String(p.percent)} % → ${describeNext(p.next, following)}`]));
      break;
    case 'update_profile':
      for (const k of ['set', 'unset', 'add', 'remove']) if (step[k] !== undefined) rows.push([k, <code>{json(step[k])}</code>]);
      next('Then', step.next);
      break;
    case 'exit':
      rows.push(['Then', 'the journey exits']);
      break;
  }
  return <dl class="facts">{rows.map(([k, v]) => <><dt>{k}</dt><dd>{v}</dd></>)}</dl>;
}

function StepFigures({ counts, kind }: { counts: StepCounts | undefined; kind: string }) {
  const c = counts ?? { entered: 0, waiting: 0, sent: 0, skipped: {}, failed: {}, paths: {} };
  const figures: [string, string][] = [['entered', String(c.entered)], ['waiting', String(c.waiting)]];
  if (kind === 'send') {
    figures.push(['sent', String(c.sent)]);
    if (Object.keys(c.skipped).length) figures.push(['skipped', byReason(c.skipped)]);
    if (Object.keys(c.failed).length) figures.push(['failed', byReason(c.failed)]);
  }
  if (Object.keys(c.paths).length) figures.push(['paths', byReason(c.paths)]);
  return (
    <dl class="step-counts">
      {figures.map(([k, v]) => <div><dt>{k}</dt><dd>{v}</dd></div>)}
    </dl>
  );
}

export function Flow({ steps, counts, version }: { steps: Obj[]; counts: StepCounts[]; version: number }) {
  return (
    <ol class="flow" aria-label={`The journey's steps, version ${version}`}>
      {steps.map((s, i) => {
        const id = str(s.id);
        const kind = str(s.type);
        return (
          <li key={id} class="step-card" aria-labelledby={`step-${i}`}>
            <h3 id={`step-${i}`}><span class="step-kind">{kindNames[kind as StepKind] ?? kind}</span> <code>{id}</code></h3>
            <Settings step={s} following={steps[i + 1] ? str(steps[i + 1]!.id) : undefined} />
            <StepFigures counts={counts.find((c) => c.version === version && c.step === id)} kind={kind} />
          </li>
        );
      })}
    </ol>
  );
}
