-- Webhooks (docs/webhooks.md): a project's endpoints, the events Herald reports to them and each
-- event's delivery to each endpoint, written in the transaction of the fact it reports (an
-- outbox), and the log of every HTTP attempt.

create table webhook_endpoints (
  id              uuid primary key,
  project_id      uuid not null references projects (id) on delete cascade,
  url             text not null,
  description     text,
  -- The event types sent; empty means every type.
  event_types     text[] not null default '{}',
  enabled         boolean not null default true,
  disabled_reason text,
  -- The signing secret (whsec_…), sealed under the master key and bound to this row
  -- (src/store/sealed.ts); after a rotation the previous one signs too until previous_expires_at.
  sealed          bytea not null,
  previous_sealed bytea,
  previous_expires_at timestamptz,
  -- Since when every attempt to this endpoint has failed; null after a success.
  failing_since   timestamptz,
  created_at      timestamptz not null,
  updated_at      timestamptz not null
);
-- The outbox's probe for a fact: a project's endpoints (none: an index miss, nothing written).
create index webhook_endpoints_project on webhook_endpoints (project_id);

-- One row per event that had at least one matching endpoint when it happened (and kept for replay).
create table webhook_events (
  id          uuid primary key,
  project_id  uuid not null references projects (id) on delete cascade,
  type        text not null,
  -- The `data` of the payload; the envelope (type, timestamp) is built from the row.
  data        jsonb not null,
  created_at  timestamptz not null
);
create index webhook_events_project_time on webhook_events (project_id, created_at);

-- One row per (event, endpoint): where that event stands with that endpoint.
create table webhook_deliveries (
  id              uuid primary key default gen_random_uuid(),
  event_id        uuid not null references webhook_events (id) on delete cascade,
  endpoint_id     uuid not null references webhook_endpoints (id) on delete cascade,
  project_id      uuid not null,
  -- pending: to be sent at next_attempt_at; succeeded: a 2xx; failed: out of attempts.
  status          text not null default 'pending' check (status in ('pending', 'succeeded', 'failed')),
  attempts        int not null default 0,
  next_attempt_at timestamptz not null,
  -- A dispatcher's claim: no other sends this row before it ends (a crashed one's claim lapses).
  leased_until    timestamptz,
  created_at      timestamptz not null,
  updated_at      timestamptz not null,
  unique (endpoint_id, event_id)
);
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where status = 'pending';
create index webhook_deliveries_endpoint_pending on webhook_deliveries (endpoint_id) where status = 'pending';

-- Every HTTP attempt, for the endpoint's delivery log (GET /v1/webhooks/{id}/attempts).
create table webhook_attempts (
  id           bigint generated always as identity primary key,
  endpoint_id  uuid not null references webhook_endpoints (id) on delete cascade,
  project_id   uuid not null,
  event_id     uuid not null,
  attempt      int not null,
  status_code  int,
  latency_ms   int not null,
  error        text,
  created_at   timestamptz not null
);
create index webhook_attempts_endpoint on webhook_attempts (endpoint_id, id desc);
