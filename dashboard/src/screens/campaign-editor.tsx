/**
 * A campaign's editor (editors): a new one, or one not started yet (a draft, or scheduled before it
 * sends). Name, targeting (everyone, a saved segment, a custom audience), channels in priority
 * order with each one's content, when it sends, its send rate and labels, and an A/B test's
 * variants and control group. The API checks everything (templates, content, `when`) and names
 * the field it refuses; the form shows that answer.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import type { paths } from '../api/openapi.js';
import { can, project } from '../state.js';
import { Empty, Field, idList, instantOf, Page, Problem, Select, TextArea } from '../ui.js';

type Create = paths['/v1/campaigns']['post']['requestBody']['content']['application/json'];
type Campaign = paths['/v1/campaigns/{id}']['get']['responses'][200]['content']['application/json'];
type Channel = Create['channels'][number];
type Content = NonNullable<Create['content']>;
type Named = { id: string; name: string };
/** A stored variant's content, as far as the form shows it. */
type Shown = { push?: { title?: string; body?: string }; email?: { subject?: string; text?: string }; sms?: { text?: string } };
const allChannels: readonly Channel[] = ['push', 'email', 'sms'];
const schedules = ['now', 'at', 'local'] as const;
type Schedule = (typeof schedules)[number];

const text = (f: FormData, name: string) => String(f.get(name) ?? '').trim();
/** An instant as a datetime-local field shows it: the browser's zone, to the minute. */
const localInput = (iso: unknown): string => {
  if (typeof iso !== 'string') return '';
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};

function contentOf(f: FormData, prefix: string, channels: readonly Channel[]): Content {
  const c: Content = {};
  if (channels.includes('push')) c.push = { title: text(f, `${prefix}push_title`), body: text(f, `${prefix}push_body`) };
  if (channels.includes('email')) c.email = { subject: text(f, `${prefix}email_subject`), text: text(f, `${prefix}email_text`) };
  if (channels.includes('sms')) c.sms = { text: text(f, `${prefix}sms_text`) };
  return c;
}

function whenOf(f: FormData, schedule: Schedule): Record<string, unknown> {
  if (schedule === 'at') return { type: 'at', instant: instantOf(text(f, 'at')) };
  if (schedule === 'local') {
    const late = text(f, 'late');
    return { type: 'local', date: text(f, 'local_date'), time: text(f, 'local_time'), late: late === 'next_day' ? { policy: 'next_day' } : { policy: 'skip' } };
  }
  return { type: 'now' };
}

/** One variant's (or the campaign's) content, one fieldset per chosen channel. */
function ContentFields({ prefix, channels, content, label }: { prefix: string; channels: readonly Channel[]; content: Shown; label: string }) {
  const at = label ? `${label}: ` : '';
  return (<>
    {channels.includes('push') && (
      <fieldset><legend>{at}Push</legend>
        <Field label={`${at}Push title`} name={`${prefix}push_title`} required maxLength={1024} defaultValue={content.push?.title ?? ''} />
        <TextArea label={`${at}Push body`} name={`${prefix}push_body`} required rows={2} maxLength={4096} defaultValue={content.push?.body ?? ''} />
      </fieldset>
    )}
    {channels.includes('email') && (
      <fieldset><legend>{at}Email</legend>
        <Field label={`${at}Email subject`} name={`${prefix}email_subject`} required maxLength={998} defaultValue={content.email?.subject ?? ''} />
        <TextArea label={`${at}Email text`} name={`${prefix}email_text`} required rows={5} defaultValue={content.email?.text ?? ''} />
      </fieldset>
    )}
    {channels.includes('sms') && (
      <fieldset><legend>{at}SMS</legend>
        <TextArea label={`${at}SMS text`} name={`${prefix}sms_text`} required rows={3} maxLength={1600} defaultValue={content.sms?.text ?? ''} />
      </fieldset>
    )}
  </>);
}

export function CampaignEditor({ id }: { id?: string }) {
  const [campaign, setCampaign] = useState<Campaign>();
  const [segments, setSegments] = useState<Named[]>([]);
  const [audiences, setAudiences] = useState<Named[]>([]);
  const [problem, setProblem] = useState<ApiProblem>();
  useEffect(() => {
    void api.GET('/v1/segments', { params: { query: {} } }).then((r) => setSegments((r.data?.segments ?? []) as Named[]));
    void api.GET('/v1/audiences', { params: { query: {} } }).then((r) => setAudiences(r.data?.audiences ?? []));
    if (id) {
      void api.GET('/v1/campaigns/{id}', { params: { path: { id } } }).then((r) => {
        if (r.data) setCampaign(r.data); else setProblem(problemOf(r.error));
      });
    }
  }, [id, project.value?.id]);
  const title = id ? 'Edit campaign' : 'New campaign';
  if (!can('editor')) return <Page title={title}><Empty>Campaigns are written by the project's editors, admins and owners.</Empty></Page>;
  if (id && !campaign) return <Page title={title}><Problem problem={problem} /></Page>;
  return (
    <Page title={title} actions={<a href={id ? `#/campaigns/${id}` : '#/campaigns'}>Cancel</a>}>
      <EditorForm key={campaign?.id ?? 'new'} campaign={campaign} segments={segments} audiences={audiences} />
    </Page>
  );
}

function EditorForm({ campaign, segments, audiences }: { campaign: Campaign | undefined; segments: Named[]; audiences: Named[] }) {
  const t = (campaign?.targeting ?? {}) as { segment_id?: string; audience_ids?: string[] };
  const w = (campaign?.when ?? { type: 'now' }) as { type: string; instant?: string; date?: string; time?: string; late?: { policy?: string } };
  const [channels, setChannels] = useState<readonly Channel[]>(campaign?.channels ?? ['push']);
  const [target, setTarget] = useState<'everyone' | 'segment' | 'audience'>(t.segment_id ? 'segment' : t.audience_ids?.length ? 'audience' : 'everyone');
  const [schedule, setSchedule] = useState<Schedule>((schedules as readonly string[]).includes(w.type) ? w.type as Schedule : 'now');
  const [variantCount, setVariantCount] = useState(Math.max(1, campaign?.variants.length ?? 1));
  const [problem, setProblem] = useState<ApiProblem>();
  const [busy, setBusy] = useState(false);
  const variants = campaign?.variants ?? [];

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    const start = (e.submitter as HTMLButtonElement | null)?.value === 'start';
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const targeting = target === 'segment' ? { segment_id: text(f, 'segment_id') } : target === 'audience' ? { audience_ids: [text(f, 'audience_id')] } : {};
    const rate = text(f, 'send_rate');
    const body = {
      name: text(f, 'name'), when: whenOf(f, schedule), targeting, channels: [...channels], labels: idList(text(f, 'labels')),
      ...(variantCount > 1
        ? {
            variants: Array.from({ length: variantCount }, (_, i) => ({
              name: text(f, `v${i}_name`), percent: Number(text(f, `v${i}_percent`)), content: contentOf(f, `v${i}_`, channels),
            })),
            control_percent: Number(text(f, 'control_percent') || 0),
          }
        : { content: contentOf(f, 'v0_', channels), control_percent: 0 }),
    };
    setBusy(true);
    let r: { data?: Campaign; error?: unknown };
    if (campaign) {
      r = await api.PATCH('/v1/campaigns/{id}', { params: { path: { id: campaign.id } }, body: { ...body, send_rate: rate ? Number(rate) : null } });
      if (r.data && start && campaign.state === 'draft') r = await api.POST('/v1/campaigns/{id}/start', { params: { path: { id: campaign.id } } });
    } else {
      r = await api.POST('/v1/campaigns', { body: { ...body, ...(rate ? { send_rate: Number(rate) } : {}), start } });
    }
    setBusy(false);
    if (!r.data) return setProblem(problemOf(r.error));
    location.hash = `#/campaigns/${r.data.id}`;
  };
  const toggle = (ch: Channel) => (e: Event) => {
    const on = (e.currentTarget as HTMLInputElement).checked;
    setChannels(allChannels.filter((c) => (c === ch ? on : channels.includes(c))));
  };
  const pick = <T,>(set: (v: T) => void) => (e: Event) => set((e.currentTarget as HTMLSelectElement).value as T);

  return (
    <form onSubmit={submit} aria-label="Campaign">
      <Field label="Name" name="name" required maxLength={200} defaultValue={campaign?.name ?? ''} />
      <fieldset><legend>Who it reaches</legend>
        <Select label="Targeting" options={['everyone', 'segment', 'audience']} value={target} onChange={pick(setTarget)} />
        {target === 'segment' && (segments.length === 0 ? <Empty>No saved segment: save one on the Segments screen.</Empty>
          : <div class="field"><label for="campaign-segment">Segment</label>
            <select id="campaign-segment" name="segment_id" defaultValue={t.segment_id}>{segments.map((s) => <option value={s.id}>{s.name}</option>)}</select></div>)}
        {target === 'audience' && (audiences.length === 0 ? <Empty>No audience: create one on the Audiences screen.</Empty>
          : <div class="field"><label for="campaign-audience">Audience</label>
            <select id="campaign-audience" name="audience_id" defaultValue={t.audience_ids?.[0]}>{audiences.map((a) => <option value={a.id}>{a.name}</option>)}</select></div>)}
      </fieldset>
      <fieldset><legend>Channels, in priority order</legend>
        <p class="hint">Each profile gets the first of these it can be reached on.</p>
        {allChannels.map((ch) => (
          <label class="check"><input type="checkbox" checked={channels.includes(ch)} onChange={toggle(ch)} /> {ch}</label>
        ))}
      </fieldset>
      <fieldset><legend>A/B test</legend>
        <div class="field"><label for="campaign-variants">Variants</label>
          <select id="campaign-variants" value={String(variantCount)} onChange={(e) => setVariantCount(Number((e.currentTarget as HTMLSelectElement).value))}>
            <option value="1">one content (no test)</option>{[2, 3, 4].map((n) => <option value={String(n)}>{n} variants</option>)}
          </select></div>
        {variantCount > 1 && <Field label="Control group (%)" name="control_percent" type="number" min={0} max={50} defaultValue={String(campaign?.control_percent ?? 0)}
          hint="Held out: never sent, counted, to compare against." />}
      </fieldset>
      {Array.from({ length: variantCount }, (_, i) => (
        <fieldset key={i}>
          <legend>{variantCount > 1 ? `Variant ${i + 1}` : 'Content'}</legend>
          {variantCount > 1 && (<div class="inline">
            <Field label={`Variant ${i + 1} name`} name={`v${i}_name`} required maxLength={100} defaultValue={variants[i]?.name ?? String.fromCharCode(65 + i)} />
            <Field label={`Variant ${i + 1} share (%)`} name={`v${i}_percent`} type="number" required min={1} max={100}
              defaultValue={String(variants[i]?.percent ?? Math.floor(100 / variantCount))} />
          </div>)}
          <ContentFields prefix={`v${i}_`} channels={channels} content={(variants[i]?.content ?? {}) as Shown} label={variantCount > 1 ? `Variant ${i + 1}` : ''} />
        </fieldset>
      ))}
      <p class="hint">Every text may hold Liquid over the profile: <code>{'{{ first_name | default: "there" }}'}</code>. A template that does not parse is refused when you save, with the field it is in.</p>
      <fieldset><legend>When it sends</legend>
        <Select label="Schedule" options={schedules} value={schedule} onChange={pick(setSchedule)} />
        {schedule === 'at' && <Field label="Send at" name="at" type="datetime-local" required defaultValue={localInput(w.instant)} hint="In this browser's time zone." />}
        {schedule === 'local' && (<div class="inline">
          <Field label="Date" name="local_date" type="date" required defaultValue={w.date ?? ''} />
          <Field label="Local time" name="local_time" type="time" required defaultValue={w.time ?? '09:00'} hint="In each recipient's time zone." />
          <Select label="If that time has passed" name="late" options={['skip', 'next_day']} defaultValue={w.late?.policy === 'next_day' ? 'next_day' : 'skip'} />
        </div>)}
        <Field label="Send rate (messages per minute)" name="send_rate" type="number" min={1000} max={1000000}
          defaultValue={campaign?.send_rate ? String(campaign.send_rate) : ''} hint="Empty: as fast as Herald can. At least 1,000." />
      </fieldset>
      <Field label="Labels" name="labels" defaultValue={campaign?.labels.join(', ') ?? ''} hint="Up to 5, separated by commas; capping rules can count a label." />
      <Problem problem={problem} />
      <div class="actions">
        <button type="submit" name="action" value="draft" disabled={busy || channels.length === 0}>{campaign ? 'Save' : 'Save draft'}</button>
        {(!campaign || campaign.state === 'draft') && <button type="submit" name="action" value="start" disabled={busy || channels.length === 0}>Save and start</button>}
      </div>
    </form>
  );
}
