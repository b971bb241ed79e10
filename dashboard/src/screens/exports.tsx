/**
 * Exports (editors start them; docs/exports.md): profiles, a segment's members, events or a
 * campaign's recipients, as CSV or NDJSON, written in the background. The list follows each
 * one's progress (rows written of the total) while any runs, and a finished one downloads through
 * its signed link.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import type { paths } from '../api/openapi.js';
import { can, project } from '../state.js';
import { Empty, Field, idList, instantOf, Page, Problem, Select, Status, useEvery, when } from '../ui.js';

type Export = paths['/v1/exports']['get']['responses'][200]['content']['application/json']['exports'][number];
type Body = paths['/v1/exports']['post']['requestBody']['content']['application/json'];
type Named = { id: string; name: string };
const kinds: readonly Body['kind'][] = ['profiles', 'segment_members', 'events', 'campaign_recipients'];
const refreshMs = 1500;

const text = (f: FormData, name: string) => String(f.get(name) ?? '').trim();

function bodyOf(f: FormData, kind: Body['kind']): Body {
  const body: Body = { kind, format: text(f, 'format') as Body['format'] };
  const attributes = idList(text(f, 'attributes'));
  if ((kind === 'profiles' || kind === 'segment_members') && attributes.length) body.attributes = attributes;
  if ((kind === 'profiles' || kind === 'segment_members') && text(f, 'segment_id')) body.segment_id = text(f, 'segment_id');
  if (kind === 'campaign_recipients') body.campaign_id = text(f, 'campaign_id');
  if (kind === 'events') {
    if (text(f, 'from')) body.from = instantOf(text(f, 'from'));
    if (text(f, 'to')) body.to = instantOf(text(f, 'to'));
    const names = idList(text(f, 'names'));
    if (names.length) body.names = names;
  }
  return body;
}

/**
 * The download link on this origin: the API writes it from Herald's public URL, and the dashboard
 * is served by that same Herald, so its path and signature are the link wherever the page was opened.
 */
const here = (url: string): string => {
  const u = new URL(url, location.origin);
  return u.pathname + u.search;
};

export function Exports() {
  const [exports, setExports] = useState<Export[]>();
  const [cursor, setCursor] = useState<string | null>(null);
  const [kind, setKind] = useState<Body['kind']>('profiles');
  const [segments, setSegments] = useState<Named[]>([]);
  const [campaigns, setCampaigns] = useState<Named[]>([]);
  const [problem, setProblem] = useState<ApiProblem>();
  const load = async (after?: string) => {
    const r = await api.GET('/v1/exports', { params: { query: after ? { cursor: after } : {} } });
    if (!r.data) return setProblem(problemOf(r.error));
    setExports((x) => (after ? [...(x ?? []), ...r.data.exports] : r.data.exports));
    setCursor(r.data.next_cursor);
  };
  useEffect(() => {
    void load();
    void api.GET('/v1/segments', { params: { query: {} } }).then((r) => setSegments((r.data?.segments ?? []) as Named[]));
    void api.GET('/v1/campaigns', { params: { query: { limit: 1000 } } }).then((r) => setCampaigns(r.data?.campaigns ?? []));
  }, [project.value?.id]);
  useEvery(refreshMs, exports?.some((e) => e.state === 'running') ?? false, () => load());

  const start = async (e: SubmitEvent) => {
    e.preventDefault();
    const r = await api.POST('/v1/exports', { body: bodyOf(new FormData(e.currentTarget as HTMLFormElement), kind) });
    if (!r.data) return setProblem(problemOf(r.error));
    setProblem(undefined);
    await load();
  };
  const picker = (label: string, name: string, options: Named[], required: boolean) => (
    <div class="field">
      <label for={`export-${name}`}>{label}</label>
      <select id={`export-${name}`} name={name} required={required}>
        {!required && <option value="">all profiles</option>}
        {options.map((o) => <option value={o.id}>{o.name}</option>)}
      </select>
    </div>
  );

  return (
    <Page title="Exports" actions={<button onClick={() => load()}>Refresh</button>}>
      <Problem problem={problem} />
      {exports && (exports.length === 0 ? <Empty>No export yet.</Empty> : (
        <table>
          <caption class="visually-hidden">Exports, newest first</caption>
          <thead><tr><th scope="col">Started</th><th scope="col">What</th><th scope="col">State</th><th scope="col">Progress</th><th scope="col">Size</th><th scope="col">File</th></tr></thead>
          <tbody>{exports.map((x) => (
            <tr key={x.id}>
              <td>{when(x.created_at)}</td><td>{x.kind} · {x.format}</td><td><Status status={x.state} />{x.error && <small> {x.error}</small>}</td>
              <td>
                <progress value={x.rows} max={x.total ?? undefined} aria-label={`Export ${x.id}: ${x.rows} rows written`} />
                <small> {x.rows.toLocaleString()}{x.total !== null ? ` of ${x.total.toLocaleString()}` : ''} rows</small>
              </td>
              <td>{x.bytes.toLocaleString()} B</td>
              <td>{x.download ? <a href={here(x.download.url)} download>Download</a> : '—'}{x.download && <small> until {when(x.download.expires_at)}</small>}</td>
            </tr>
          ))}</tbody>
        </table>
      ))}
      {cursor && <button onClick={() => load(cursor)}>Older exports</button>}
      {can('editor') && (<>
        <h2>New export</h2>
        <form onSubmit={start} aria-label="New export">
          <div class="inline">
            <Select label="Export" options={kinds} value={kind} onChange={(e) => setKind((e.currentTarget as HTMLSelectElement).value as Body['kind'])} />
            <Select label="Format" name="format" options={['csv', 'ndjson']} />
          </div>
          {kind === 'profiles' && picker('Only the members of', 'segment_id', segments, false)}
          {kind === 'segment_members' && (segments.length ? picker('Segment', 'segment_id', segments, true) : <Empty>No saved segment.</Empty>)}
          {(kind === 'profiles' || kind === 'segment_members') && (
            <Field label="Attributes" name="attributes" hint="Custom attributes to write, separated by commas (profiles: empty writes them all)." />
          )}
          {kind === 'campaign_recipients' && (campaigns.length ? picker('Campaign', 'campaign_id', campaigns, true) : <Empty>No campaign.</Empty>)}
          {kind === 'events' && (<div class="inline">
            <Field label="From" name="from" type="datetime-local" />
            <Field label="To" name="to" type="datetime-local" />
            <Field label="Event names" name="names" hint="Separated by commas; empty: every event." />
          </div>)}
          <button type="submit">Start export</button>
        </form>
      </>)}
    </Page>
  );
}
