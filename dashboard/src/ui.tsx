/** The few building blocks every screen uses: labelled fields, buttons, tables, notes. */
import type { ComponentChildren, InputHTMLAttributes, SelectHTMLAttributes, TextareaHTMLAttributes } from 'preact';
import { useEffect, useId, useRef } from 'preact/hooks';
import type { ApiProblem } from './api/client.js';

export function Field(p: { label: string; hint?: string } & InputHTMLAttributes) {
  const id = useId();
  const { label, hint, ...input } = p;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input id={id} aria-describedby={hint ? `${id}-hint` : undefined} {...input} />
      {hint && <small id={`${id}-hint`}>{hint}</small>}
    </div>
  );
}

export function Select(p: { label: string; options: readonly string[] } & SelectHTMLAttributes) {
  const id = useId();
  const { label, options, ...select } = p;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} {...select}>{options.map((o: string) => <option value={o}>{o}</option>)}</select>
    </div>
  );
}

export function Problem({ problem }: { problem: ApiProblem | undefined }) {
  if (!problem) return null;
  return <p class="problem" role="alert"><strong>{problem.code}</strong>: {problem.message}</p>;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export function Page({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section aria-labelledby="page-title">
      <header class="page-head"><h1 id="page-title">{title}</h1>{actions}</header>
      {children}
    </section>
  );
}

export const when = (d: string | null | undefined): string => (d ? new Date(d).toLocaleString() : '—');

export function TextArea(p: { label: string; hint?: string } & TextareaHTMLAttributes) {
  const id = useId();
  const { label, hint, ...area } = p;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <textarea id={id} aria-describedby={hint ? `${id}-hint` : undefined} {...area} />
      {hint && <small id={`${id}-hint`}>{hint}</small>}
    </div>
  );
}

const ok = new Set(['sent', 'delivered', 'reached', 'finished', 'done', 'enabled', 'live']);
const waiting = new Set(['queued', 'pending', 'accepted', 'draft', 'scheduled', 'running', 'paused']);
/** A delivery's, campaign's or export's status, coloured by outcome (the word is always there: colour is not the only cue). */
export function Status({ status }: { status: string }) {
  const tone = ok.has(status) ? 'ok' : waiting.has(status) ? 'wait' : 'bad';
  return <span class={`status ${tone}`}>{status.replace('_', ' ')}</span>;
}

/** A target as an operator needs to recognise it, not as one could reuse it: a***@example.com, +33•••••78, a token's ends. */
export function mask(target: string, kind: string): string {
  if (kind === 'address') {
    const at = target.indexOf('@');
    return at > 0 ? `${target[0]}***${target.slice(at)}` : '***';
  }
  if (kind === 'number') return target.length > 5 ? `${target.slice(0, 3)}${'•'.repeat(target.length - 5)}${target.slice(-2)}` : '•••';
  if (kind === 'subscription') {
    try { return `${new URL(target).host}/…${target.slice(-6)}`; } catch { return `…${target.slice(-6)}`; }
  }
  return target.length > 12 ? `${target.slice(0, 6)}…${target.slice(-4)}` : '…';
}

/** Ids typed or pasted one per line, or separated by commas or spaces. */
export const idList = (text: string): string[] => [...new Set(text.split(/[\s,]+/).filter(Boolean))];

/** A JSON value shown compactly, for attributes and event properties. */
export const json = (v: unknown): string => (v === undefined || v === null ? '—' : typeof v === 'string' ? v : JSON.stringify(v));

/** Runs `task` every `ms` while `active` (a long job's progress: a fan-out, an export), and stops when the screen goes. */
export function useEvery(ms: number, active: boolean, task: () => unknown): void {
  const latest = useRef(task);
  latest.current = task;
  useEffect(() => {
    if (!active) return undefined;
    const timer = setInterval(() => { void latest.current(); }, ms);
    return () => clearInterval(timer);
  }, [active, ms]);
}

/** An instant typed in a datetime-local field (the browser's zone) as an ISO 8601 instant. */
export const instantOf = (local: string): string => new Date(local).toISOString();
