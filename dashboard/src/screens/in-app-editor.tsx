/**
 * An in-app message's editor (editors): a new one (a draft), or a change to one not stopped (a new
 * version, which devices get at their next sync). Its format and content with up to 4 buttons, the
 * trigger, the audience as a targeting query, priority, dates (UTC, this browser's zone, or wall
 * times in each recipient's zone), display capping, labels, inbox and recheck, beside a live
 * preview that follows the form. The API checks everything and names the field it refuses; a
 * refusal of the audience is shown beside the audience.
 */
import { useEffect, useId, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import type { paths } from '../api/openapi.js';
import { can, project } from '../state.js';
import { Empty, Field, Page, Problem, Select, TextArea } from '../ui.js';
import { InAppPreview, type PreviewButton, type PreviewContent } from './in-app-preview.js';

type Create = paths['/v1/in-app-messages']['post']['requestBody']['content']['application/json'];
export type InAppMessage = paths['/v1/in-app-messages/{id}']['get']['responses'][200]['content']['application/json'];
const formats: readonly Create['format'][] = ['modal', 'banner', 'fullscreen', 'image', 'html'];
type Trigger = 'session_start' | 'asap' | 'event';
/** utc and browser: instants; recipient: wall times in each recipient's zone (local_dates). */
type Zone = 'utc' | 'browser' | 'recipient';
const zoneNames: Record<Zone, string> = { utc: 'UTC', browser: 'this browser\'s time zone', recipient: 'each recipient\'s time zone' };
const triggerNames: Record<Trigger, string> = { session_start: 'when a session starts', asap: 'as soon as synced', event: 'when the app tracks an event' };

/** A select whose options read as words (their values are the API's). */
function Choice<T extends string>(p: { label: string; value: T; names: Record<T, string>; onChange: (e: Event) => void }) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{p.label}</label>
      <select id={id} value={p.value} onChange={p.onChange}>{(Object.keys(p.names) as T[]).map((v) => <option value={v}>{p.names[v]}</option>)}</select>
    </div>
  );
}
const maxButtons = 4;

interface Draft {
  name: string; format: Create['format']; title: string; body: string; image_url: string; html: string; position: 'top' | 'bottom';
  buttons: PreviewButton[]; trigger: Trigger; event: string; where: string; audience: string; priority: string;
  zone: Zone; starts_at: string; ends_at: string; max_displays: string; min_interval_seconds: string; labels: string; inbox: boolean; recheck: boolean;
}

/** A stored date as the datetime-local field shows it in `zone`. */
function dateField(iso: string | undefined, zone: Zone): string {
  if (!iso) return '';
  if (zone === 'recipient') return iso.slice(0, 16); // the digits as written: the offset is ignored
  const d = new Date(iso);
  const shift = zone === 'browser' ? d.getTimezoneOffset() * 60_000 : 0;
  return new Date(d.getTime() - shift).toISOString().slice(0, 16);
}

/** A datetime-local value as the API takes it. */
function dateValue(local: string, zone: Zone): string | null {
  if (!local) return null;
  return zone === 'browser' ? new Date(local).toISOString() : `${local}:00Z`;
}

function draftOf(m: InAppMessage | undefined): Draft {
  const c = (m?.content ?? {}) as PreviewContent;
  const t = (m?.trigger ?? { type: 'session_start' }) as { type: Draft['trigger']; event?: string; where?: unknown[] };
  const zone: Zone = m?.local_dates ? 'recipient' : 'utc';
  return {
    name: m?.name ?? '', format: m?.format ?? 'modal', title: c.title ?? '', body: c.body ?? '', image_url: c.image_url ?? '', html: c.html ?? '',
    position: c.position ?? 'top', buttons: c.buttons ?? [], trigger: t.type, event: t.event ?? '', where: t.where ? JSON.stringify(t.where) : '',
    audience: m?.audience ? JSON.stringify(m.audience, null, 1) : '', priority: String(m?.priority ?? 50), zone,
    starts_at: dateField(m?.starts_at, zone), ends_at: dateField(m?.ends_at, zone),
    max_displays: m?.capping?.max_displays ? String(m.capping.max_displays) : '', min_interval_seconds: m?.capping?.min_interval_seconds ? String(m.capping.min_interval_seconds) : '',
    labels: m?.labels.join(', ') ?? '', inbox: m?.inbox ?? false, recheck: m?.recheck ?? true,
  };
}

/** The content the format takes (the API refuses html outside format html, position outside banner). */
function contentOf(d: Draft): PreviewContent {
  if (d.format === 'html') return { html: d.html };
  const c: PreviewContent = {};
  if (d.title) c.title = d.title;
  if (d.body) c.body = d.body;
  if (d.image_url) c.image_url = d.image_url;
  if (d.format === 'banner') c.position = d.position;
  if (d.buttons.length) c.buttons = d.buttons.map((b) => (b.action === 'url' ? { id: b.id, label: b.label, action: 'url', url: b.url ?? '' } : { id: b.id, label: b.label, action: 'dismiss' }));
  return c;
}

export function InAppEditor({ id }: { id?: string }) {
  const [message, setMessage] = useState<InAppMessage>();
  const [problem, setProblem] = useState<ApiProblem>();
  useEffect(() => {
    if (!id) return;
    void api.GET('/v1/in-app-messages/{id}', { params: { path: { id } } }).then((r) => {
      if (r.data) setMessage(r.data); else setProblem(problemOf(r.error));
    });
  }, [id, project.value?.id]);
  const title = id ? 'Edit in-app message' : 'New in-app message';
  if (!can('editor')) return <Page title={title}><Empty>In-app messages are written by the project's editors, admins and owners.</Empty></Page>;
  if (id && !message) return <Page title={title}><Problem problem={problem} /></Page>;
  return (
    <Page title={title} actions={<a href={id ? `#/in-app/${id}` : '#/in-app'}>Cancel</a>}>
      <EditorForm key={message?.id ?? 'new'} message={message} />
    </Page>
  );
}

/** Whether the window has room for the form and the preview side by side. */
function useWide(query = '(min-width: 62rem)'): boolean {
  const [wide, setWide] = useState(() => matchMedia(query).matches);
  useEffect(() => {
    const list = matchMedia(query);
    const changed = () => setWide(list.matches);
    list.addEventListener('change', changed);
    return () => list.removeEventListener('change', changed);
  }, [query]);
  return wide;
}

function EditorForm({ message }: { message: InAppMessage | undefined }) {
  const wide = useWide();
  const [d, setD] = useState<Draft>(() => draftOf(message));
  const [problem, setProblem] = useState<ApiProblem>();
  const [busy, setBusy] = useState(false);
  const [count, setCount] = useState<string>();
  const set = <K extends keyof Draft>(k: K) => (e: Event) => {
    const el = e.currentTarget as HTMLInputElement;
    setD((x) => ({ ...x, [k]: (el.type === 'checkbox' ? el.checked : el.value) as Draft[K] }));
  };
  const setButton = (i: number, patch: Partial<PreviewButton>) => setD((x) => ({ ...x, buttons: x.buttons.map((b, j) => (j === i ? { ...b, ...patch } : b)) }));
  const addButton = () => setD((x) => {
    const taken = new Set(x.buttons.map((b) => b.id));
    let n = x.buttons.length + 1;
    while (taken.has(`button-${n}`)) n++;
    return { ...x, buttons: [...x.buttons, { id: `button-${n}`, label: '', action: 'dismiss' }] };
  });
  const content = contentOf(d);
  /** The audience's own refusal (invalid JSON, or the API's invalid_query of it), shown beside it. */
  const [audienceProblem, setAudienceProblem] = useState<ApiProblem>();
  const refused = (p: ApiProblem, audience: boolean) => {
    setCount(undefined);
    if (audience) { setAudienceProblem(p); setProblem(undefined); } else { setProblem(p); setAudienceProblem(undefined); }
  };

  // A refusal stands for the form as it was sent: a change to the form (or to the audience) lifts it.
  useEffect(() => setProblem(undefined), [d]);
  useEffect(() => setAudienceProblem(undefined), [d.audience]);

  const json = (text: string, what: 'audience' | 'event filter'): { ok: true; value: unknown } | { ok: false } => {
    if (!text.trim()) return { ok: true, value: undefined };
    try { return { ok: true, value: JSON.parse(text) }; } catch {
      refused({ code: 'invalid_json', message: `the ${what} is not valid JSON` }, what === 'audience');
      return { ok: false };
    }
  };
  const countAudience = async () => {
    const q = json(d.audience, 'audience');
    if (!q.ok || q.value === undefined) return;
    const r = await api.POST('/v1/segments/count', { body: { query: q.value as never } });
    if (!r.data) return refused(problemOf(r.error), true);
    setAudienceProblem(undefined);
    setCount(`${r.data.count.toLocaleString()} profiles match`);
  };
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    const audience = json(d.audience, 'audience');
    const where = json(d.where, 'event filter');
    if (!audience.ok || !where.ok) return;
    const capping = {
      ...(d.max_displays ? { max_displays: Number(d.max_displays) } : {}),
      ...(d.min_interval_seconds ? { min_interval_seconds: Number(d.min_interval_seconds) } : {}),
    };
    const trigger: Create['trigger'] = d.trigger === 'event'
      ? { type: 'event', event: d.event, ...(where.value !== undefined ? { where: where.value as Record<string, unknown>[] } : {}) }
      : { type: d.trigger };
    const starts = dateValue(d.starts_at, d.zone);
    const ends = dateValue(d.ends_at, d.zone);
    const body = {
      name: d.name, format: d.format, content, trigger, priority: Number(d.priority), local_dates: d.zone === 'recipient',
      labels: [...new Set(d.labels.split(',').map((l) => l.trim()).filter(Boolean))],
      inbox: d.inbox, recheck: d.recheck,
    };
    setBusy(true);
    const r = message
      // PATCH replaces the fields given; null clears the optional ones left empty.
      ? await api.PATCH('/v1/in-app-messages/{id}', {
        params: { path: { id: message.id } },
        body: { ...body, audience: (audience.value ?? null) as Record<string, never> | null, starts_at: starts, ends_at: ends, capping: Object.keys(capping).length ? capping : null },
      })
      : await api.POST('/v1/in-app-messages', {
        body: {
          ...body, ...(audience.value !== undefined ? { audience: audience.value as Record<string, never> } : {}),
          ...(starts ? { starts_at: starts } : {}), ...(ends ? { ends_at: ends } : {}), ...(Object.keys(capping).length ? { capping } : {}),
        },
      });
    setBusy(false);
    if (!r.data) {
      const p = problemOf(r.error);
      return refused(p, p.code === 'invalid_query' && /^body\.audience\b/.test(p.message));
    }
    location.hash = `#/in-app/${r.data.id}`;
  };

  const texts = d.format !== 'html';
  return (
    // Wide: the preview beside the form, kept in view while the form scrolls. Narrow: above it.
    <div style={{ display: 'flex', gap: '1.5rem', flexDirection: wide ? 'row' : 'column-reverse', alignItems: wide ? 'flex-start' : 'stretch' }}>
      <form onSubmit={submit} aria-label="In-app message" style={{ flex: '1 1 auto', minWidth: 0 }}>
        <Field label="Name" required maxLength={200} value={d.name} onInput={set('name')} hint="Operators see it; devices do not." />
        <Select label="Format" options={formats} value={d.format} onChange={set('format')} />
        <fieldset style={{ minWidth: 0 }}><legend>Content</legend>
          {texts && (<>
            <Field label="Title" maxLength={4096} value={d.title} onInput={set('title')} />
            <TextArea label="Body" rows={3} maxLength={4096} value={d.body} onInput={set('body')} />
            <Field label="Image URL" type="url" value={d.image_url} onInput={set('image_url')} required={d.format === 'image'} hint="https only." />
            {d.format === 'banner' && <Select label="Position" options={['top', 'bottom']} value={d.position} onChange={set('position')} />}
          </>)}
          {!texts && <TextArea label="HTML" rows={8} required value={d.html} onInput={set('html')} hint="Shown in a sandboxed frame: no script runs. Liquid outputs are HTML-escaped." />}
          <p class="hint">Every text may hold Liquid over the profile: <code>{'{{ first_name | default: "there" }}'}</code>.</p>
        </fieldset>
        {texts && (
          <fieldset style={{ minWidth: 0 }}><legend>Buttons</legend>
            {d.buttons.length === 0 && <p class="hint">No button: the message closes by its own close control.</p>}
            {d.buttons.map((b, i) => (
              <div class="inline" key={b.id}>
                <Field label={`Button ${i + 1} label`} required maxLength={200} value={b.label} onInput={(e) => setButton(i, { label: (e.currentTarget as HTMLInputElement).value })} />
                <Select label={`Button ${i + 1} action`} options={['dismiss', 'url']} value={b.action}
                  onChange={(e) => setButton(i, { action: (e.currentTarget as HTMLSelectElement).value as PreviewButton['action'] })} />
                {b.action === 'url' && <Field label={`Button ${i + 1} URL`} required value={b.url ?? ''} onInput={(e) => setButton(i, { url: (e.currentTarget as HTMLInputElement).value })}
                  hint="https://… or an app's own link (myapp://cart)." />}
                <button type="button" class="danger" onClick={() => setD((x) => ({ ...x, buttons: x.buttons.filter((_, j) => j !== i) }))}>Remove button {i + 1}</button>
              </div>
            ))}
            {d.buttons.length < maxButtons && <button type="button" onClick={addButton}>Add a button</button>}
          </fieldset>
        )}
        <fieldset style={{ minWidth: 0 }}><legend>When it shows</legend>
          <Choice label="Trigger" names={triggerNames} value={d.trigger} onChange={set('trigger')} />
          {d.trigger === 'event' && (<>
            <Field label="Event name" required value={d.event} onInput={set('event')} />
            <TextArea label="Event filter (JSON)" rows={2} value={d.where} onInput={set('where')} hint='Optional, on the event&apos;s attributes: [{"attribute": "total", "gte": 20}].' />
          </>)}
          <Field label="Priority" type="number" min={0} max={100} required value={d.priority} onInput={set('priority')} hint="0 to 100: one message shows at a time, the highest first." />
          <Choice label="Dates in" names={zoneNames} value={d.zone} onChange={set('zone')} />
          <p class="hint">{d.zone === 'recipient' ? 'Wall times: 09:00 means 09:00 wherever each recipient is.' : `Instants, typed in ${zoneNames[d.zone]}.`}</p>
          <div class="inline">
            <Field label="Starts" type="datetime-local" value={d.starts_at} onInput={set('starts_at')} hint="Empty: from its start." />
            <Field label="Ends" type="datetime-local" value={d.ends_at} onInput={set('ends_at')} hint="Empty: until it is stopped." />
          </div>
        </fieldset>
        <fieldset style={{ minWidth: 0 }}><legend>Who sees it</legend>
          <div class="field">
            <label for="in-app-audience">Audience (targeting query, JSON)</label>
            <textarea id="in-app-audience" rows={3} value={d.audience} onInput={set('audience')} aria-describedby="in-app-audience-hint in-app-audience-problem"
              aria-invalid={audienceProblem ? 'true' : undefined} />
            <small id="in-app-audience-hint">Empty: everyone. The Segments screen's language, such as {'{"attribute": "tier", "eq": "gold"}'} or a saved segment by its id, {'{"segment": "ID"}'}.</small>
            <div id="in-app-audience-problem">{audienceProblem && <Problem problem={audienceProblem} />}</div>
          </div>
          <div class="actions">
            <button type="button" onClick={countAudience} disabled={!d.audience.trim()}>Count matching profiles</button>
            {count && <output aria-live="polite">{count}</output>}
          </div>
        </fieldset>
        <fieldset style={{ minWidth: 0 }}><legend>Capping</legend>
          <div class="inline">
            <Field label="Displays per person at most" type="number" min={1} value={d.max_displays} onInput={set('max_displays')} hint="Empty: no limit." />
            <Field label="Seconds between two displays" type="number" min={1} value={d.min_interval_seconds} onInput={set('min_interval_seconds')} hint="86400: once a day." />
          </div>
          <p class="hint">The project's capping rules of scope in_app apply too.</p>
        </fieldset>
        <Field label="Labels" value={d.labels} onInput={set('labels')} hint="Separated by commas." />
        <label class="check"><input type="checkbox" checked={d.inbox} onChange={set('inbox')} /> Keep in the inbox (on the first impression)</label>
        <label class="check"><input type="checkbox" checked={d.recheck} onChange={set('recheck')} /> Check the audience again just before it shows</label>
        <Problem problem={problem} />
        <div class="actions">
          <button type="submit" disabled={busy}>{message ? 'Save' : 'Save draft'}</button>
        </div>
      </form>
      <div style={wide ? { flex: '0 0 20rem', position: 'sticky', top: '1rem', marginTop: '.6rem' } : { width: '100%', maxWidth: '20rem', margin: '0 auto' }}>
        <InAppPreview format={d.format} content={content} />
      </div>
    </div>
  );
}
