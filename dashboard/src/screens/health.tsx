/**
 * System health (GET /v1/dashboard/health): what /readyz and /metrics tell an operator, read by
 * the Herald process serving this dashboard and refreshed every few seconds. Readiness (database,
 * queue and NATS), the queue per topic (depth, age of the oldest ready job, dead letters), the
 * outbox where jobs wait in PostgreSQL while NATS is away, and the provider breakers open.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, problemOf, type ApiProblem } from '../api/client.js';
import type { paths } from '../api/openapi.js';
import { project } from '../state.js';
import { Empty, Page, Problem, useEvery, when } from '../ui.js';

type Health = paths['/v1/dashboard/health']['get']['responses'][200]['content']['application/json'];

/** 75 s as "1 min 15 s": an age an operator reads at a glance. */
export function age(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

const tone = (check: string) => (check === 'up' ? 'ok' : 'bad');

export function SystemHealth() {
  const [health, setHealth] = useState<Health>();
  const [problem, setProblem] = useState<ApiProblem>();
  const load = async () => {
    const r = await api.GET('/v1/dashboard/health');
    if (!r.data) return setProblem(problemOf(r.error));
    setProblem(undefined);
    setHealth(r.data);
  };
  useEffect(() => { void load(); }, [project.value?.id]);
  useEvery(5000, true, load);
  const h = health;
  const nats = h?.queue_backend === 'jetstream';
  const backlog = h?.outbox.reduce((n, o) => n + o.rows, 0) ?? 0;
  return (
    <Page title="System health" actions={<button onClick={() => load()}>Refresh</button>}>
      <Problem problem={problem} />
      {h && (<>
        <p class="hint">As this Herald process sees it at {when(h.checked_at)}, refreshed every 5 seconds; the figures are the whole instance's, every project's together.</p>
        <dl class="facts" aria-label="Readiness">
          <dt>Status</dt><dd><span class={`status ${h.status === 'ready' ? 'ok' : h.status === 'degraded' ? 'wait' : 'bad'}`}>{h.status}</span>
            {h.status === 'degraded' && <small> requests are still stored in PostgreSQL, and wait for the queue</small>}</dd>
          <dt>Database</dt><dd><span class={`status ${tone(h.database)}`}>{h.database}</span></dd>
          <dt>{nats ? 'Queue (NATS JetStream)' : 'Queue (PostgreSQL)'}</dt><dd><span class={`status ${tone(h.queue)}`}>{h.queue}</span></dd>
          <dt>Provider breakers open</dt><dd>{h.provider_breakers_open === null ? 'this process runs no worker' : h.provider_breakers_open === 0 ? 'none'
            : `${h.provider_breakers_open}: their deliveries wait for the provider`}</dd>
          <dt>Embedded PostgreSQL restarts</dt><dd>{h.embedded_postgres_restarts}</dd>
        </dl>
        <h2>Queue</h2>
        {h.topics.length === 0 ? <Empty>No job waiting, and none dead-lettered.</Empty> : (
          <table class="figures">
            <caption class="visually-hidden">The queue by topic</caption>
            <thead><tr><th scope="col">Topic</th><th scope="col">Depth</th><th scope="col">Oldest ready job</th><th scope="col">Dead letters</th></tr></thead>
            <tbody>{h.topics.map((t) => (
              <tr key={t.topic}><th scope="row"><code>{t.topic}</code></th><td>{t.depth}</td><td>{t.depth ? age(t.oldest_age_seconds) : '—'}</td><td>{t.dead_letters}</td></tr>
            ))}</tbody>
          </table>
        )}
        <p class="hint">Depth counts the jobs waiting or in progress; a growing age of the oldest ready job means the workers are not keeping up, or are waiting on a provider.</p>
        {nats && (<>
          <h2>Outbox</h2>
          <p class="hint">Jobs committed in PostgreSQL and not yet published to NATS: while NATS is away the backlog waits here, and nothing is lost.</p>
          {backlog === 0 ? <Empty>Empty: every job reached NATS.</Empty> : (
            <table class="figures">
              <caption class="visually-hidden">The outbox by topic</caption>
              <thead><tr><th scope="col">Topic</th><th scope="col">Jobs waiting</th><th scope="col">Oldest due</th></tr></thead>
              <tbody>{h.outbox.map((o) => <tr key={o.topic}><th scope="row"><code>{o.topic}</code></th><td>{o.rows}</td><td>{age(o.oldest_age_seconds)}</td></tr>)}</tbody>
            </table>
          )}
        </>)}
      </>)}
    </Page>
  );
}
