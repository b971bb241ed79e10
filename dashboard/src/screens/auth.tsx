/** The first visit's owner setup, and sign-in. */
import { useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import { needsSetup, session, type SessionInfo } from '../state.js';
import { Field, Problem } from '../ui.js';

function useForm(submit: (form: FormData) => Promise<{ data?: unknown; error?: unknown }>) {
  const [problem, setProblem] = useState<ApiProblem>();
  const [busy, setBusy] = useState(false);
  const onSubmit = async (e: SubmitEvent) => {
    e.preventDefault();
    setBusy(true);
    const r = await submit(new FormData(e.currentTarget as HTMLFormElement)).catch((error: unknown) => ({ error, data: undefined }));
    setBusy(false);
    if (r.data) {
      needsSetup.value = false;
      session.value = r.data as SessionInfo;
    } else setProblem(problemOf(r.error));
  };
  return { problem, busy, onSubmit };
}

export function Setup() {
  const f = useForm((form) => api.POST('/v1/dashboard/setup', {
    body: { email: String(form.get('email')), password: String(form.get('password')), name: String(form.get('name') ?? '') },
  }));
  return (
    <main class="auth">
      <h1>Welcome to Herald</h1>
      <p>This install has no owner yet. Create the owner account: it can open every project and invite the others.</p>
      <form onSubmit={f.onSubmit}>
        <Field label="Your name" name="name" autoComplete="name" />
        <Field label="Email" name="email" type="email" required autoComplete="username" />
        <Field label="Password" name="password" type="password" required minLength={8} autoComplete="new-password" hint="At least 8 characters." />
        <Problem problem={f.problem} />
        <button type="submit" disabled={f.busy}>Create the owner account</button>
      </form>
    </main>
  );
}

export function Login() {
  const f = useForm((form) => api.POST('/v1/dashboard/login', { body: { email: String(form.get('email')), password: String(form.get('password')) } }));
  return (
    <main class="auth">
      <h1>Sign in to Herald</h1>
      <form onSubmit={f.onSubmit}>
        <Field label="Email" name="email" type="email" required autoComplete="username" />
        <Field label="Password" name="password" type="password" required autoComplete="current-password" />
        <Problem problem={f.problem} />
        <button type="submit" disabled={f.busy}>Sign in</button>
      </form>
    </main>
  );
}
