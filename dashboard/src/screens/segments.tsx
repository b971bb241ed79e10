/** Saved segments, and a query built (or written as JSON) with its live exact count before it is saved. */
import { useEffect, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import { QueryBuilder } from '../query-builder.js';
import { can, project } from '../state.js';
import { Empty, Page, Problem, when } from '../ui.js';

type Segment = { id: string; name: string; description?: string | null; query: unknown; updated_at: string };
const example = { all: [{ attribute: 'tier', eq: 'gold' }] };
const textOf = (q: unknown) => JSON.stringify(q, null, 2);

export function Segments() {
  const [segments, setSegments] = useState<Segment[]>();
  const [problem, setProblem] = useState<ApiProblem>();
  const [text, setText] = useState(textOf(example));
  const [name, setName] = useState('');
  /** The saved segment being changed, or none for a new one. */
  const [editing, setEditing] = useState<Segment>();
  const load = async () => {
    const r = await api.GET('/v1/segments', { params: { query: {} } });
    if (r.data) setSegments(r.data.segments as Segment[]); else setProblem(problemOf(r.error));
  };
  useEffect(() => { void load(); }, [project.value?.id]);

  const open = (s: Segment | undefined) => {
    setEditing(s);
    setName(s?.name ?? '');
    setText(textOf(s?.query ?? example));
    setProblem(undefined);
  };
  const save = async (e: SubmitEvent) => {
    e.preventDefault();
    let query: unknown;
    try { query = JSON.parse(text); } catch { return setProblem({ code: 'invalid_json', message: 'the query is not valid JSON' }); }
    const r = editing
      ? await api.PATCH('/v1/segments/{id}', { params: { path: { id: editing.id } }, body: { name, query } as never })
      : await api.POST('/v1/segments', { body: { name, query } as never });
    if (!r.response.ok) return setProblem(problemOf(r.error));
    setProblem(undefined);
    setEditing(r.data as Segment);
    await load();
  };
  const refusal = problem?.code === 'invalid_query' ? problem : undefined;
  return (
    <Page title="Segments">
      <form class="stack" onSubmit={save}>
        <h2>{editing ? `Segment ${editing.name}` : 'New segment'}</h2>
        <QueryBuilder value={text} onInput={(t) => { setText(t); if (refusal) setProblem(undefined); }} refusal={refusal} />
        <div class="field">
          <label for="segment-name">Segment name</label>
          <input id="segment-name" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </div>
        <div class="actions">
          <button type="submit" disabled={!can('editor')} title={can('editor') ? undefined : 'Editors and above save segments'}>{editing ? 'Save changes' : 'Save segment'}</button>
          {editing && <button type="button" onClick={() => open(undefined)}>New segment</button>}
        </div>
      </form>
      {!refusal && <Problem problem={problem} />}
      {segments && (segments.length === 0 ? <Empty>No segment saved yet: build a query above, see its count, and save it.</Empty> : (
        <table>
          <caption class="visually-hidden">Saved segments</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Query</th><th scope="col">Changed</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody>{segments.map((s) => (
            <tr key={s.id}>
              <td id={`segment-${s.id}`}>{s.name}</td><td><code>{JSON.stringify(s.query)}</code></td><td>{when(s.updated_at)}</td>
              <td><button type="button" aria-describedby={`segment-${s.id}`} onClick={() => open(s)}>Open</button></td>
            </tr>
          ))}</tbody>
        </table>
      ))}
    </Page>
  );
}
