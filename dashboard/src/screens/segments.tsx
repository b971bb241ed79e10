/** Saved segments, and a query tried out with its exact count before it is saved. */
import { useEffect, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import { can, project } from '../state.js';
import { Empty, Field, Page, Problem, when } from '../ui.js';

type Segment = { id: string; name: string; description?: string | null; query: unknown; updated_at: string };
const example = '{"all": [{"field": "language", "eq": "fr"}, {"attribute": "tier", "eq": "gold"}]}';

export function Segments() {
  const [segments, setSegments] = useState<Segment[]>();
  const [problem, setProblem] = useState<ApiProblem>();
  const [count, setCount] = useState<{ count: number; took_ms: number }>();
  const [text, setText] = useState(example);
  const load = async () => {
    const r = await api.GET('/v1/segments', { params: { query: {} } });
    if (r.data) setSegments(r.data.segments as Segment[]); else setProblem(problemOf(r.error));
  };
  useEffect(() => { void load(); }, [project.value?.id]);

  const parsed = (): unknown => {
    try { return JSON.parse(text); } catch { setProblem({ code: 'invalid_json', message: 'the query is not valid JSON' }); return undefined; }
  };
  const tryCount = async () => {
    const query = parsed();
    if (query === undefined) return;
    const r = await api.POST('/v1/segments/count', { body: { query } as never });
    if (r.data) { setCount(r.data as { count: number; took_ms: number }); setProblem(undefined); } else setProblem(problemOf(r.error));
  };
  const save = async (e: SubmitEvent) => {
    e.preventDefault();
    const query = parsed();
    if (query === undefined) return;
    const name = String(new FormData(e.currentTarget as HTMLFormElement).get('name'));
    const r = await api.POST('/v1/segments', { body: { name, query } as never });
    if (!r.response.ok) return setProblem(problemOf(r.error));
    setProblem(undefined);
    await load();
  };
  return (
    <Page title="Segments">
      <form class="stack" onSubmit={save}>
        <div class="field">
          <label for="segment-query">Targeting query (JSON)</label>
          <textarea id="segment-query" rows={4} value={text} onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)} />
        </div>
        <div class="actions">
          <button type="button" onClick={tryCount}>Count matching profiles</button>
          {count && <output aria-live="polite">{count.count.toLocaleString()} profiles ({count.took_ms} ms)</output>}
        </div>
        <Field label="Segment name" name="name" required maxLength={200} />
        <button type="submit" disabled={!can('editor')} title={can('editor') ? undefined : 'Editors and above save segments'}>Save segment</button>
      </form>
      <Problem problem={problem} />
      {segments && (segments.length === 0 ? <Empty>No segment saved yet: write a query above, count it, and save it.</Empty> : (
        <table>
          <caption class="visually-hidden">Saved segments</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Query</th><th scope="col">Changed</th></tr></thead>
          <tbody>{segments.map((s) => (
            <tr key={s.id}><td>{s.name}</td><td><code>{JSON.stringify(s.query)}</code></td><td>{when(s.updated_at)}</td></tr>
          ))}</tbody>
        </table>
      ))}
    </Page>
  );
}
