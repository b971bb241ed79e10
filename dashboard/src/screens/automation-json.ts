/**
 * Reading and writing an automation's definition as the JSON it is: the API types it as an open
 * object (its grammar is docs/automations.md, checked by the server, which names the path of a
 * bad node), so the screens read it field by field and edit it in place, keeping whatever the form
 * does not show.
 */
export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const obj = (v: unknown): Obj => (isObj(v) ? v : {});
export const str = (v: unknown): string => (typeof v === 'string' ? v : '');
export const stepsOf = (definition: unknown): Obj[] => {
  const s = obj(definition).steps;
  return Array.isArray(s) ? s.map(obj) : [];
};

export const stepKinds = ['send', 'wait', 'wait_for_event', 'branch', 'split', 'update_profile', 'exit'] as const;
export type StepKind = (typeof stepKinds)[number];
export const kindNames: Record<StepKind, string> = {
  send: 'Send a message', wait: 'Wait', wait_for_event: 'Wait for an event', branch: 'Branch on a condition',
  split: 'Random split', update_profile: 'Update the profile', exit: 'Exit',
};
export const channels = ['push', 'email', 'sms'] as const;
export const weekdays = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

export function describeTrigger(definition: unknown): string {
  const t = obj(obj(definition).trigger);
  if (t.type === 'api') return 'API call';
  if (t.type === 'event') return `event ${str(t.event)}${Array.isArray(t.where) && t.where.length ? ' (filtered)' : ''}`;
  return '—';
}

/** {days: 1, hours: 4} as "1 day 4 hours". */
export function describeDuration(v: unknown): string {
  const d = obj(v);
  const parts = (['days', 'hours', 'minutes', 'seconds'] as const).flatMap((u) => {
    const n = d[u];
    return typeof n === 'number' && n > 0 ? [`${n} ${n === 1 ? u.slice(0, -1) : u}`] : [];
  });
  return parts.join(' ') || '—';
}

/** Where a pointer goes: a step's id, the journey's end (null), or the next step in the list (absent). */
export function describeNext(v: unknown, following: string | undefined): string {
  if (v === null) return 'the journey completes';
  if (typeof v === 'string') return `step ${v}`;
  return following ? `step ${following}` : 'the journey completes';
}

/** The definition with `value` at `path` (["steps", 2, "content", "email", "subject"]); undefined removes it. */
export function setIn(target: unknown, path: readonly (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  if (typeof head === 'number') {
    const list = Array.isArray(target) ? [...target] : [];
    list[head] = setIn(list[head], rest, value);
    return list;
  }
  const o: Obj = { ...obj(target) };
  const next = setIn(o[head!], rest, value);
  if (next === undefined) delete o[head!];
  else o[head!] = next;
  return o;
}

/** A path as the server names it: steps[2].content.email.subject. */
export const pathText = (path: readonly (string | number)[]): string =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');

/** The value at a path as the server names it (steps[2].content.email.subject). */
export function getAt(target: unknown, path: string): unknown {
  let v = target;
  for (const part of path.split(/\.|\[|\]/).filter(Boolean)) {
    if (Array.isArray(v) && /^\d+$/.test(part)) v = v[Number(part)];
    else if (isObj(v)) v = v[part];
    else return undefined;
  }
  return v;
}

/** The node a definition error names, and why: "body.definition.steps[2].then must name a later step" → steps[2].then. */
export function errorPath(message: string): { path: string; reason: string } | undefined {
  const m = /^body\.definition((?:\.[A-Za-z0-9_$-]+|\[\d+\])*) (.*)$/s.exec(message);
  return m ? { path: m[1]!.replace(/^\./, ''), reason: m[2]! } : undefined;
}

/** A new step of `kind`, with what the server requires filled with a start. */
export function newStep(kind: StepKind, id: string): Obj {
  switch (kind) {
    case 'send': return { id, type: kind, channels: ['email'], content: { email: { subject: '', text: '' } } };
    case 'wait': return { id, type: kind, duration: { days: 1 } };
    case 'wait_for_event': return { id, type: kind, event: '', timeout: { days: 1 } };
    case 'branch': return { id, type: kind, condition: { attribute: '', exists: true }, then: null, else: null };
    case 'split': return { id, type: kind, paths: [{ percent: 50, next: null }, { percent: 50, next: null }] };
    case 'update_profile': return { id, type: kind, set: {} };
    case 'exit': return { id, type: kind };
  }
}

/** A step id not yet used: send-1, send-2… */
export function freshId(kind: StepKind, steps: Obj[]): string {
  const used = new Set(steps.map((s) => str(s.id)));
  const base = kind.replace(/_/g, '-');
  for (let n = 1; ; n++) if (!used.has(`${base}-${n}`)) return `${base}-${n}`;
}
