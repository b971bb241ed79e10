/**
 * A profile's inbox (docs/inbox.md) on its screen: the items newest first, paged by the API's
 * cursor, the exact unread count of the whole inbox (counted with each page), each item's read,
 * opened and archived times, the archived items on request, and marking items read (editors).
 */
import { useEffect, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import type { paths } from '../api/openapi.js';
import { can } from '../state.js';
import { Empty, Problem, when } from '../ui.js';

type InboxPage = paths['/v1/inbox']['get']['responses'][200]['content']['application/json'];
type Item = InboxPage['items'][number];

const stateOf = (i: Item): string => (i.archived_at ? 'archived' : i.opened_at ? 'opened' : i.read_at ? 'read' : 'unread');

export function ProfileInbox({ customId }: { customId: string }) {
  const [items, setItems] = useState<Item[]>();
  const [unread, setUnread] = useState(0);
  const [cursor, setCursor] = useState<string | null>(null);
  const [archived, setArchived] = useState(false);
  const [problem, setProblem] = useState<ApiProblem>();
  const load = async (after?: string, limit = 20) => {
    const r = await api.GET('/v1/inbox', { params: { query: { custom_id: customId, limit, archived, ...(after ? { cursor: after } : {}) } } });
    if (!r.data) return setProblem(problemOf(r.error));
    setProblem(undefined);
    setItems((c) => (after ? [...(c ?? []), ...r.data.items] : r.data.items));
    setUnread(r.data.unread);
    setCursor(r.data.next_cursor);
  };
  useEffect(() => { void load(); }, [customId, archived]);
  const mark = async (ids: string[] | 'all') => {
    const r = await api.POST('/v1/inbox/mark', { body: { custom_id: customId, action: 'read', ...(ids === 'all' ? { all: true as const } : { ids }) } });
    if (!r.data) return setProblem(problemOf(r.error));
    // The items shown, read again (up to a page's maximum), so each shows the time Herald kept.
    await load(undefined, Math.min(100, Math.max(20, items?.length ?? 0)));
  };
  return (
    <section aria-labelledby="inbox-title">
      <h2 id="inbox-title">Inbox</h2>
      <p role="status"><strong>{unread}</strong> unread</p>
      <div class="actions">
        <label class="check"><input type="checkbox" checked={archived} onChange={(e) => setArchived((e.currentTarget as HTMLInputElement).checked)} /> Show the archived items</label>
        {can('editor') && unread > 0 && <button onClick={() => mark('all')}>Mark all read</button>}
        <button onClick={() => load()}>Refresh the inbox</button>
      </div>
      <Problem problem={problem} />
      {items && (items.length === 0 ? <Empty>{archived ? 'No archived item.' : 'The inbox is empty: a push sent with "inbox": true lands here.'}</Empty> : (
        <table>
          <caption class="visually-hidden">Inbox items, newest first</caption>
          <thead><tr>
            <th scope="col">Received</th><th scope="col">Title</th><th scope="col">Body</th><th scope="col">Deep link</th>
            <th scope="col">State</th><th scope="col">Read</th><th scope="col">Opened</th><th scope="col">Archived</th>{can('editor') && <th scope="col"><span class="visually-hidden">Actions</span></th>}
          </tr></thead>
          <tbody>{items.map((i) => (
            <tr key={i.id}>
              <td>{when(i.created_at)}</td><td>{i.title}</td><td>{i.body}</td><td>{i.deeplink ? <code>{i.deeplink}</code> : '—'}</td>
              <td><span class={`status ${i.read_at ? 'ok' : 'wait'}`}>{stateOf(i)}</span></td>
              <td>{when(i.read_at)}</td><td>{when(i.opened_at)}</td><td>{when(i.archived_at)}</td>
              {can('editor') && <td>{!i.read_at && <button aria-label={`Mark read: ${i.title}`} onClick={() => mark([i.id])}>Mark read</button>}</td>}
            </tr>
          ))}</tbody>
        </table>
      ))}
      {cursor && <button onClick={() => load(cursor)}>More inbox items</button>}
    </section>
  );
}
