/** The few building blocks every screen uses: labelled fields, buttons, tables, notes. */
import type { ComponentChildren, InputHTMLAttributes, SelectHTMLAttributes } from 'preact';
import { useId } from 'preact/hooks';
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
