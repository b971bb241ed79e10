/**
 * Analytics: the whole project's figures (stats-panel.tsx over GET /v1/stats/project), and from
 * there one transactional group's (#/analytics/transactional/GROUP): the groups of the project's
 * recent messages are listed, and any group id can be typed. A campaign's figures are in its report.
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api/client.js';
import { project } from '../state.js';
import { Field, Page } from '../ui.js';
import { StatsPanel } from './stats-panel.js';

const groupPattern = /^[A-Za-z0-9_-]{1,128}$/;
const groupLink = (id: string) => `#/analytics/transactional/${encodeURIComponent(id)}`;

export function Analytics({ arg }: { arg: string }) {
  const [kind, id] = arg.split('/');
  if (kind === 'transactional' && id) return <GroupStats id={id} />;
  return (
    <Page title="Analytics">
      <StatsPanel source={{ kind: 'project' }} />
      <Groups />
    </Page>
  );
}

function GroupStats({ id }: { id: string }) {
  return (
    <Page title={`Transactional group ${id}`} actions={<div class="actions"><a href="#/analytics">All analytics</a></div>}>
      <p class="hint">The messages sent by <code>POST /v1/transactional/send</code> with <code>group_id</code> {id}.</p>
      <StatsPanel source={{ kind: 'transactional', id }} />
    </Page>
  );
}

/** The transactional groups among the project's latest messages (a campaign's messages are its report's), and a field for any other. */
function Groups() {
  const [recent, setRecent] = useState<string[]>();
  const [typed, setTyped] = useState('');
  useEffect(() => {
    void api.GET('/v1/messages', { params: { query: { limit: 100 } } }).then((r) => {
      // Unread (Herald did not answer): no list rather than a list that says there is no group.
      if (!r.data) return;
      setRecent([...new Set(r.data.messages.map((m) => m.group_id).filter((g): g is string => !!g && !g.startsWith('campaign:')))].sort());
    });
  }, [project.value?.id]);
  const open = (e: Event) => {
    e.preventDefault();
    if (groupPattern.test(typed)) location.hash = groupLink(typed);
  };
  return (
    <>
      <h2>Transactional groups</h2>
      {recent && (recent.length === 0
        ? <p class="empty">No transactional group among the latest 100 messages: a send names one with its <code>group_id</code>.</p>
        : <ul class="reasons" aria-label="Recent transactional groups">{recent.map((g) => <li key={g}><a href={groupLink(g)}>{g}</a></li>)}</ul>)}
      <form class="inline" onSubmit={open} aria-label="Open a transactional group">
        <Field label="Group id" value={typed} pattern="[A-Za-z0-9_\-]{1,128}" required onInput={(e) => setTyped((e.currentTarget as HTMLInputElement).value)} />
        <button type="submit">Open group</button>
      </form>
    </>
  );
}
