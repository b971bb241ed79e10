/**
 * Each channel's provider: configured or not, with the non-secret settings the API shows (never a
 * secret: it answers fingerprints only). Admins set, replace and delete credentials, through a
 * form made from the provider's credential schema (api/credential-forms.ts, generated).
 */
import { useEffect, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import type { paths } from '../api/openapi.js';
import { credentialForms, type CredentialField } from '../api/credential-forms.js';
import { can, project } from '../state.js';
import { Field, json, Page, Problem, Select, TextArea, when } from '../ui.js';

type Stored = paths['/v1/providers']['get']['responses'][200]['content']['application/json']['providers'][number];
type Provider = Stored['provider'];
const names = Object.keys(credentialForms) as Provider[];

function CredentialInput({ f, provider }: { f: CredentialField; provider: string }) {
  const label = `${f.name}${f.required ? '' : ' (optional)'}`;
  const common = { label, name: f.name, required: f.required, hint: f.hint, autoComplete: 'off' };
  if (f.kind === 'choice') return <Select label={label} name={f.name} options={[...(f.required ? [] : ['']), ...(f.options ?? [])]} />;
  if (f.kind === 'json') return <TextArea {...common} rows={4} hint={`JSON. ${f.hint ?? ''}`} placeholder={provider === 'fcm' ? 'the service account key file, pasted whole' : undefined} />;
  if (f.kind === 'multiline') return <TextArea {...common} rows={4} spellcheck={false} />;
  return <Field {...common} type={(f.kind === 'number' ? 'number' : f.secret ? 'password' : 'text') as 'text'} />;
}

/** The form's values as the provider's body: empty optional fields left out, JSON and numbers parsed. */
function bodyOf(fields: CredentialField[], form: FormData): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const f of fields) {
    const v = String(form.get(f.name) ?? '').trim();
    if (v === '') continue;
    if (f.kind === 'json') {
      try { body[f.name] = JSON.parse(v); } catch { throw new Error(`${f.name} is not valid JSON`); }
    } else body[f.name] = f.kind === 'number' ? Number(v) : v;
  }
  return body;
}

function ProviderCard({ provider, stored, admin, changed }: { provider: Provider; stored: Stored | undefined; admin: boolean; changed: () => void }) {
  const [editing, setEditing] = useState(false);
  const [problem, setProblem] = useState<ApiProblem>();
  const fields = credentialForms[provider] ?? [];
  const save = async (e: SubmitEvent) => {
    e.preventDefault();
    let body: Record<string, unknown>;
    try { body = bodyOf(fields, new FormData(e.currentTarget as HTMLFormElement)); } catch (err) { return setProblem({ code: 'invalid_json', message: (err as Error).message }); }
    const r = await api.PUT(`/v1/providers/${provider}` as '/v1/providers/sms', { body: body as never });
    if (!r.response.ok) return setProblem(problemOf(r.error));
    setProblem(undefined);
    setEditing(false);
    changed();
  };
  const remove = async () => {
    const r = await api.DELETE('/v1/providers/{provider}', { params: { path: { provider } } });
    if (!r.response.ok) return setProblem(problemOf(r.error));
    setProblem(undefined);
    changed();
  };
  const { fingerprints, ...summary } = stored?.summary ?? { fingerprints: {} };
  return (
    <section class="card" aria-labelledby={`provider-${provider}`}>
      <h2 id={`provider-${provider}`}>{provider} <span class={`status ${stored ? 'ok' : 'wait'}`}>{stored ? 'configured' : 'not configured'}</span></h2>
      {stored ? (
        <dl class="facts">
          {Object.entries(summary).map(([k, v]) => <><dt>{k}</dt><dd><code>{json(v)}</code></dd></>)}
          <dt>secrets</dt><dd>{Object.keys(fingerprints).join(', ') || '—'} (stored sealed, never shown)</dd>
          <dt>updated</dt><dd>{when(stored.updated_at)}</dd>
        </dl>
      ) : <p class="empty">Sends go to the sandbox when it runs, or fail as not configured.</p>}
      <Problem problem={problem} />
      {admin && !editing && (
        <div class="actions">
          <button onClick={() => setEditing(true)}>{stored ? 'Replace' : 'Set'} {provider} credentials</button>
          {stored && <button class="danger" onClick={remove}>Delete {provider} credentials</button>}
        </div>
      )}
      {admin && editing && (
        <form onSubmit={save} aria-label={`${provider} credentials`}>
          {fields.map((f) => <CredentialInput key={f.name} f={f} provider={provider} />)}
          <div class="actions">
            <button type="submit">Check and save</button>
            <button type="button" class="danger" onClick={() => setEditing(false)}>Cancel</button>
          </div>
        </form>
      )}
    </section>
  );
}

export function Providers() {
  const [stored, setStored] = useState<Stored[]>();
  const [problem, setProblem] = useState<ApiProblem>();
  const load = async () => {
    const r = await api.GET('/v1/providers');
    if (r.data) setStored(r.data.providers); else setProblem(problemOf(r.error));
  };
  useEffect(() => { void load(); }, [project.value?.id]);
  const admin = can('admin');
  return (
    <Page title="Providers">
      {!admin && <p>Provider credentials are changed by the project's admins and owners; you see their state.</p>}
      <Problem problem={problem} />
      {stored && (
        <div class="cards">
          {names.map((p) => <ProviderCard key={p} provider={p} stored={stored.find((s) => s.provider === p)} admin={admin} changed={load} />)}
        </div>
      )}
    </Page>
  );
}
