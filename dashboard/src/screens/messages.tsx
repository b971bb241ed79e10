/** Recent messages, newest first, with their outcomes counted; one opens its trace (message-trace.tsx). */
import { useEffect, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import type { paths } from '../api/openapi.js';
import { project } from '../state.js';
import { Empty, Page, Problem, when } from '../ui.js';
import { MessageTrace } from './message-trace.js';

type Summary = paths['/v1/messages']['get']['responses'][200]['content']['application/json']['messages'][number];
const shown = ['queued', 'sent', 'delivered', 'failed', 'skipped'] as const;

export function Messages({ arg }: { arg: string }) {
  if (arg) return <MessageTrace id={arg} />;
  return <MessageList />;
}

function MessageList() {
  const [messages, setMessages] = useState<Summary[]>();
  const [cursor, setCursor] = useState<string | null>(null);
  const [problem, setProblem] = useState<ApiProblem>();
  const load = async (after?: string) => {
    const r = await api.GET('/v1/messages', { params: { query: after ? { cursor: after } : {} } });
    if (!r.data) return setProblem(problemOf(r.error));
    setMessages((m) => (after ? [...(m ?? []), ...r.data.messages] : r.data.messages));
    setCursor(r.data.next_cursor);
  };
  useEffect(() => { void load(); }, [project.value?.id]);
  const other = (m: Summary) => m.counts.total - shown.reduce((n, s) => n + m.counts[s], 0);
  return (
    <Page title="Messages" actions={<div class="actions"><a href="#/send">Send a message</a><button onClick={() => load()}>Refresh</button></div>}>
      <Problem problem={problem} />
      {messages && (messages.length === 0 ? <Empty>No message sent yet in this project.</Empty> : (
        <table>
          <caption class="visually-hidden">Recent messages, newest first</caption>
          <thead><tr>
            <th scope="col">Sent</th><th scope="col">Group</th><th scope="col">Content</th><th scope="col">State</th>
            <th scope="col">Deliveries</th>{shown.map((s) => <th scope="col">{s}</th>)}<th scope="col">other</th>
          </tr></thead>
          <tbody>{messages.map((m) => (
            <tr key={m.message_id}>
              <td><a href={`#/messages/${m.message_id}`}>{when(m.created_at)}</a></td>
              <td>{m.group_id}</td><td>{m.parts.join(', ')}</td><td>{m.state}</td><td>{m.counts.total}</td>
              {shown.map((s) => <td>{m.counts[s]}</td>)}<td>{other(m)}</td>
            </tr>
          ))}</tbody>
        </table>
      ))}
      {cursor && <button onClick={() => load(cursor)}>Older messages</button>}
    </Page>
  );
}
