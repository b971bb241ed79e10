/**
 * A transactional send to custom_ids, with push, email and/or SMS content (editors). Each
 * submission carries an Idempotency-Key made for it. A submission that got no answer (the network
 * failed) is retried with its key, so a send that did reach Herald is not stored twice; once Herald
 * answered, the next submission is a new one with a new key.
 */
import { useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import type { paths } from '../api/openapi.js';
import { can } from '../state.js';
import { Empty, Field, idList, Page, Problem, TextArea } from '../ui.js';

type Body = paths['/v1/transactional/send']['post']['requestBody']['content']['application/json'];

const text = (f: FormData, name: string) => String(f.get(name) ?? '').trim();

function bodyOf(f: FormData): Body {
  const body: Body = { group_id: text(f, 'group_id'), recipients: { custom_ids: idList(text(f, 'custom_ids')) } };
  if (f.get('with_push')) body.push = { title: text(f, 'push_title'), body: text(f, 'push_body') };
  if (f.get('with_email')) body.email = { subject: text(f, 'email_subject'), text: text(f, 'email_text') };
  if (f.get('with_sms')) body.sms = { text: text(f, 'sms_text') };
  return body;
}

export function Send() {
  const [unanswered, setUnanswered] = useState<{ key: string; body: string }>();
  const [sent, setSent] = useState<string>();
  const [problem, setProblem] = useState<ApiProblem>();
  const [busy, setBusy] = useState(false);
  const [parts, setParts] = useState({ push: true, email: false, sms: false });
  if (!can('editor')) return <Page title="Send a message"><Empty>Sending is open to the project's editors, admins and owners.</Empty></Page>;

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    const body = bodyOf(new FormData(e.currentTarget as HTMLFormElement));
    const json = JSON.stringify(body);
    const key = unanswered?.body === json ? unanswered.key : crypto.randomUUID();
    setBusy(true);
    const r = await api.POST('/v1/transactional/send', { body, params: { header: { 'idempotency-key': key } } })
      .catch((error: unknown) => ({ data: undefined, error, response: undefined }));
    setBusy(false);
    setUnanswered(r.response ? undefined : { key, body: json });
    if (!r.data) return setProblem(problemOf(r.error));
    setProblem(undefined);
    setSent(r.data.message_id);
  };
  const toggle = (part: keyof typeof parts) => (e: Event) => setParts({ ...parts, [part]: (e.currentTarget as HTMLInputElement).checked });
  return (
    <Page title="Send a message">
      {sent && (
        <div class="notice" role="status">
          <p>Message accepted. <a href={`#/messages/${sent}`}>See who it reaches</a>.</p>
        </div>
      )}
      <form onSubmit={submit}>
        <Field label="Group" name="group_id" required pattern="[A-Za-z0-9_\-]{1,128}" defaultValue="dashboard" hint="The analytics key that groups sends: letters, digits, _ and -." />
        <TextArea label="Recipients (custom_ids)" name="custom_ids" required rows={3} hint="One per line, or separated by commas." />
        <fieldset>
          <legend><label class="check"><input type="checkbox" name="with_push" checked={parts.push} onChange={toggle('push')} /> Push</label></legend>
          {parts.push && (<>
            <Field label="Push title" name="push_title" required maxLength={1024} />
            <TextArea label="Push body" name="push_body" required rows={2} maxLength={4096} />
          </>)}
        </fieldset>
        <fieldset>
          <legend><label class="check"><input type="checkbox" name="with_email" checked={parts.email} onChange={toggle('email')} /> Email</label></legend>
          {parts.email && (<>
            <Field label="Email subject" name="email_subject" required maxLength={998} />
            <TextArea label="Email text" name="email_text" required rows={5} />
          </>)}
        </fieldset>
        <fieldset>
          <legend><label class="check"><input type="checkbox" name="with_sms" checked={parts.sms} onChange={toggle('sms')} /> SMS</label></legend>
          {parts.sms && <TextArea label="SMS text" name="sms_text" required rows={3} maxLength={1600} />}
        </fieldset>
        <Problem problem={problem} />
        <button type="submit" disabled={busy || !(parts.push || parts.email || parts.sms)}>Send</button>
      </form>
    </Page>
  );
}
