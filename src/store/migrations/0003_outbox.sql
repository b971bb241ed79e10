-- The job outbox of the JetStream work queue (src/queue/jetstream/, src/relay/). `enqueue` inserts
-- here inside the caller's transaction, so a job exists if and only if that transaction commits; the
-- relay publishes committed rows to JetStream with Nats-Msg-Id = id, waits for the PubAck, then
-- deletes them. A row is also where a delayed job (run_at in the future) waits, and where every job
-- waits while NATS is down. Normally near-empty: keep it small.

create table job_outbox (
  id          uuid primary key,
  topic       text not null,
  payload     jsonb not null,
  run_at      timestamptz not null default now(),
  created_at  timestamptz not null default now()
);
-- The relay takes due rows oldest first; a claim relays its own topic's due rows first.
create index job_outbox_due on job_outbox (run_at, id);
create index job_outbox_topic_due on job_outbox (topic, run_at);
