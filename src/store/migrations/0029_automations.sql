-- Trigger automations (docs/automations.md): a definition kept as numbered versions, one row per
-- journey (a profile's run through one version), the events waiting to be matched against them,
-- each profile's entry history, and the per-step counters. Every timer is a journey's due_at: one
-- partial index serves every wait of every automation, however long.

create table automations (
  id           uuid primary key,
  project_id   uuid not null references projects (id) on delete cascade,
  name         text not null,
  state        text not null check (state in ('draft', 'live', 'stopped')),
  -- The version new entries take (the latest); running journeys keep theirs.
  version      integer not null default 1,
  created_at   timestamptz not null,
  updated_at   timestamptz not null,
  started_at   timestamptz,
  stopped_at   timestamptz
);
create index automations_project on automations (project_id, id);

create table automation_versions (
  automation_id uuid not null references automations (id) on delete cascade,
  version       integer not null,
  -- The definition as the API took it (parsed again when used: domain/automations/definition.ts).
  definition    jsonb not null,
  created_at    timestamptz not null,
  primary key (automation_id, version)
);

-- The event names an automation listens to (trigger, exit, wait-for), of any of its versions: the
-- event statement (store/events.ts) keeps an event for the automations only when a name matches,
-- so a project without automations pays one index probe per event.
create table automation_event_names (
  project_id    uuid not null,
  name          text not null,
  automation_id uuid not null references automations (id) on delete cascade,
  primary key (project_id, name, automation_id)
);

-- Events stored by the API that an automation may care about, written by the statement that stores
-- the event (read-your-writes: the automation sees every event it triggers on), taken by the
-- automation loop under SKIP LOCKED and deleted in the transaction that acts on them.
create table automation_inbox (
  seq          bigint generated always as identity primary key,
  project_id   uuid not null,
  event_id     uuid not null,
  custom_id    text not null,
  name         text not null,
  time         timestamptz not null,
  attributes   jsonb not null
);

-- One row per entry of a profile into an automation.
create table automation_journeys (
  id            uuid primary key,
  project_id    uuid not null,
  automation_id uuid not null references automations (id) on delete cascade,
  version       integer not null,
  custom_id     text not null,
  -- What the entry came from: `event:<event id>` or `api:<caller's id>`; an entry is made once.
  entry_key     text not null,
  state         text not null check (state in ('active', 'completed', 'exited')),
  -- The step to run next (its id in the version's definition) and when.
  step          text not null,
  due_at        timestamptz,
  -- Steps run so far: the attempt number of the next one, its side effect keyed on it.
  seq           integer not null default 0,
  -- The step the journey waits in (null when not waiting), for the waiting counts and exits.
  waiting       boolean not null default false,
  -- wait_for_event: the event name a waiting journey waits for (null otherwise).
  waits_for     text,
  sent          integer not null default 0,
  -- The trigger: {name, time, attributes} of the event, or the API call's attributes.
  trigger       jsonb not null,
  entered_at    timestamptz not null,
  ended_at      timestamptz,
  exit_reason   text,
  unique (automation_id, entry_key)
);
-- The loop's claim: every due journey of every automation, oldest first.
create index automation_journeys_due on automation_journeys (due_at) where state = 'active';
-- A profile's journeys: its running ones (exit events, entry rules), all of them on erasure.
create index automation_journeys_profile on automation_journeys (project_id, custom_id);

-- Each profile's entries into one automation: the row the entry rules lock and read.
create table automation_profiles (
  automation_id uuid not null references automations (id) on delete cascade,
  custom_id     text not null,
  entries       integer not null default 0,
  last_entered_at timestamptz,
  last_ended_at timestamptz,
  primary key (automation_id, custom_id)
);

-- Per-step counters, moved in the transaction of the step they count. step '' is the automation
-- itself (entered, not_entered by reason, exited by reason, completed); `waiting` goes up when a
-- journey starts waiting in a step and down when it leaves.
create table automation_counts (
  automation_id uuid not null references automations (id) on delete cascade,
  version       integer not null,
  step          text not null,
  metric        text not null,
  reason        text not null default '',
  n             bigint not null default 0,
  primary key (automation_id, version, step, metric, reason)
);

-- A send step's message, once per (journey, step, attempt): a step run again after a crash or by a
-- second worker finds its row and sends nothing.
create table automation_sends (
  journey_id  uuid not null references automation_journeys (id) on delete cascade,
  step        text not null,
  attempt     integer not null,
  message_id  uuid,
  primary key (journey_id, step, attempt)
);
