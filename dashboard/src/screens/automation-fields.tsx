/**
 * The automation editor's labelled controls. Each names the definition's path it edits
 * (steps[2].content.email.subject), so the server's refusal, which names the path of the bad
 * node, is shown beside the control it is about (aria-invalid, and described by the reason).
 */
import { createContext } from 'preact';
import { useContext, useId, useState } from 'preact/hooks';
import { str, type Obj } from './automation-json.js';

/** The refused node's path and reason, from the last save. */
export const Refusal = createContext<{ path: string; reason: string } | undefined>(undefined);

/** The reason, when the refused node is this path or inside it. */
export function useRefusal(path: string): string | undefined {
  const r = useContext(Refusal);
  if (!r) return undefined;
  return r.path === path || r.path.startsWith(`${path}.`) || r.path.startsWith(`${path}[`) ? r.reason : undefined;
}

function Described({ id, hint, error }: { id: string; hint?: string | undefined; error: string | undefined }) {
  return (<>
    {hint && <small id={`${id}-hint`}>{hint}</small>}
    {error && <small id={`${id}-error`} class="field-error">Refused: {error}</small>}
  </>);
}
const describedBy = (id: string, hint: unknown, error: unknown) => [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(' ') || undefined;

export function Line(p: { label: string; path: string; value: string; onValue: (v: string) => void; hint?: string; type?: 'text' | 'number' | 'time'; required?: boolean; min?: number; max?: number }) {
  const id = useId();
  const error = useRefusal(p.path);
  return (
    <div class="field">
      <label for={id}>{p.label}</label>
      <input id={id} type={(p.type ?? 'text') as 'text'} value={p.value} required={p.required} min={p.min} max={p.max}
        aria-invalid={error ? 'true' : undefined} aria-describedby={describedBy(id, p.hint, error)}
        onInput={(e) => p.onValue((e.currentTarget as HTMLInputElement).value)} />
      <Described id={id} hint={p.hint} error={error} />
    </div>
  );
}

export function Area(p: { label: string; path: string; value: string; onValue: (v: string) => void; rows?: number; hint?: string }) {
  const id = useId();
  const error = useRefusal(p.path);
  return (
    <div class="field">
      <label for={id}>{p.label}</label>
      <textarea id={id} rows={p.rows ?? 3} value={p.value} aria-invalid={error ? 'true' : undefined} aria-describedby={describedBy(id, p.hint, error)}
        onInput={(e) => p.onValue((e.currentTarget as HTMLTextAreaElement).value)} />
      <Described id={id} hint={p.hint} error={error} />
    </div>
  );
}

export function Choice(p: { label: string; path: string; value: string; options: readonly (readonly [string, string])[]; onValue: (v: string) => void; hint?: string }) {
  const id = useId();
  const error = useRefusal(p.path);
  return (
    <div class="field">
      <label for={id}>{p.label}</label>
      <select id={id} value={p.value} aria-invalid={error ? 'true' : undefined} aria-describedby={describedBy(id, p.hint, error)}
        onChange={(e) => p.onValue((e.currentTarget as HTMLSelectElement).value)}>
        {p.options.map(([v, text]) => <option value={v}>{text}</option>)}
      </select>
      <Described id={id} hint={p.hint} error={error} />
    </div>
  );
}

/** A JSON value (a targeting query, attributes to set): kept as typed until it parses; empty is absent. */
export function JsonArea(p: { label: string; path: string; value: unknown; onValue: (v: unknown) => void; hint?: string; rows?: number }) {
  const id = useId();
  const refused = useRefusal(p.path);
  const [text, setText] = useState(p.value === undefined ? '' : JSON.stringify(p.value, null, 1));
  const [bad, setBad] = useState<string>();
  const error = bad ?? refused;
  return (
    <div class="field">
      <label for={id}>{p.label}</label>
      <textarea id={id} rows={p.rows ?? 3} value={text} aria-invalid={error ? 'true' : undefined} aria-describedby={describedBy(id, p.hint, error)}
        onInput={(e) => {
          const t = (e.currentTarget as HTMLTextAreaElement).value;
          setText(t);
          if (!t.trim()) { setBad(undefined); return p.onValue(undefined); }
          try { p.onValue(JSON.parse(t)); setBad(undefined); } catch { setBad('this is not JSON yet'); }
        }} />
      <Described id={id} hint={p.hint} error={error} />
    </div>
  );
}

/** {days, hours, minutes} as three number fields; seconds given in JSON are kept. */
export function Duration({ label, path, value, onValue }: { label: string; path: string; value: unknown; onValue: (v: Obj) => void }) {
  const d = (value ?? {}) as Obj;
  const error = useRefusal(path);
  const id = useId();
  const set = (unit: string) => (v: string) => {
    const n = Number(v);
    const next: Obj = { ...d };
    if (v === '' || !Number.isFinite(n) || n === 0) delete next[unit]; else next[unit] = n;
    onValue(next);
  };
  const num = (unit: string) => (typeof d[unit] === 'number' ? String(d[unit]) : '');
  return (
    <fieldset aria-describedby={error ? `${id}-error` : undefined}>
      <legend>{label}</legend>
      <div class="inline">
        <Line label={`${label}: days`} path={`${path}.days`} type="number" min={0} value={num('days')} onValue={set('days')} />
        <Line label={`${label}: hours`} path={`${path}.hours`} type="number" min={0} value={num('hours')} onValue={set('hours')} />
        <Line label={`${label}: minutes`} path={`${path}.minutes`} type="number" min={0} value={num('minutes')} onValue={set('minutes')} />
      </div>
      {error && <small id={`${id}-error`} class="field-error">Refused: {error}</small>}
    </fieldset>
  );
}

/** Where a step leads: the next step in the list (absent), the journey's end (null), or a later step by id. */
export function NextStep(p: { label: string; path: string; value: unknown; later: string[]; required?: boolean; onValue: (v: string | null | undefined) => void }) {
  const options: [string, string][] = [
    ...(p.required ? [] : [['', 'the next step in the list'] as [string, string]]),
    ['\u0000end', 'end of the journey'],
    ...p.later.map((id) => [id, `step ${id}`] as [string, string]),
  ];
  const value = p.value === null ? '\u0000end' : str(p.value);
  return (
    <Choice label={p.label} path={p.path} value={value} options={options}
      onValue={(v) => p.onValue(v === '' ? undefined : v === '\u0000end' ? null : v)} />
  );
}
