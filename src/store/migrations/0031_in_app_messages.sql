-- In-app messages (docs/in-app.md): a definition kept as numbered versions, the events devices
-- report (impression, click, dismiss) deduplicated by the SDK outbox's client id, each owner's
-- display counter per message (what per-message capping reads) and the per-day counters the stats
-- read. The event rows, the display counters and the stats counters are written by one statement.

create table in_app_messages (
  id           uuid primary key,
  project_id   uuid not null references projects (id) on delete cascade,
  status       text not null check (status in ('draft', 'running', 'stopped')),
  -- The version devices get (the latest).
  version      integer not null default 1,
  created_at   timestamptz not null,
  updated_at   timestamptz not null,
  started_at   timestamptz,
  stopped_at   timestamptz
);
create index in_app_messages_project on in_app_messages (project_id, id);
-- The sync reads the project's running messages only.
create index in_app_messages_running on in_app_messages (project_id) where status = 'running';

create table in_app_message_versions (
  message_id   uuid not null references in_app_messages (id) on delete cascade,
  version      integer not null,
  -- The normalized definition (domain/in-app/definition.ts), parsed again where it is used.
  definition   jsonb not null,
  created_at   timestamptz not null,
  primary key (message_id, version)
);

-- One row per reported event. The key is the SDK's: a batch sent again (a retry after a lost
-- answer, a reload) meets the same keys and counts nothing twice. The owner is who capping counts:
-- the installation's profile when it has a custom_id at that moment, else the installation.
create table in_app_events (
  project_id   uuid not null,
  install_id   text not null,
  client_id    text not null,
  message_id   uuid not null references in_app_messages (id) on delete cascade,
  version      integer not null,
  type         text not null check (type in ('impression', 'click', 'dismiss')),
  button_id    text,
  owner_kind   text not null check (owner_kind in ('profile', 'installation')),
  owner        text not null,
  time         timestamptz not null,
  received_at  timestamptz not null,
  primary key (project_id, install_id, client_id)
);
-- The in_app capping rules' windows (an owner's recent displays of every message), and erasure.
create index in_app_events_owner on in_app_events (project_id, owner_kind, owner, type, time);
create index in_app_events_message on in_app_events (message_id);
-- The scheduler's upkeep forgets events past every capping window and any retry (store/in-app.ts).
create index in_app_events_received on in_app_events (received_at);

-- Each owner's displays and clicks of one message: max_displays and min_interval_seconds read it,
-- and its first display or click is what the unique counters count.
create table in_app_displays (
  project_id   uuid not null,
  message_id   uuid not null references in_app_messages (id) on delete cascade,
  owner_kind   text not null,
  owner        text not null,
  displays     integer not null default 0,
  clicks       integer not null default 0,
  last_display timestamptz,
  primary key (project_id, owner_kind, owner, message_id)
);
create index in_app_displays_message on in_app_displays (message_id);

-- The stats (GET /v1/stats/in-app/{id}): counters per message and UTC day of receipt.
create table in_app_stats (
  project_id         uuid not null,
  message_id         uuid not null references in_app_messages (id) on delete cascade,
  day                date not null,
  impressions        integer not null default 0,
  unique_impressions integer not null default 0,
  clicks             integer not null default 0,
  unique_clicks      integer not null default 0,
  dismissals         integer not null default 0,
  primary key (project_id, message_id, day)
);
