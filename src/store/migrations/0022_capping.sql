-- Marketing pressure (docs/capping.md): a project's capping rules, the sends they count (one row
-- per message per profile, written in the fan-out transaction that records the deliveries, so a
-- reservation exists exactly when its deliveries do), the profiles whose share of a message waits
-- for a window to allow it, and each project's quiet hours.

create table capping_rules (
  id             uuid primary key,
  project_id     uuid not null references projects (id) on delete cascade,
  name           text not null,
  -- all | marketing (campaigns and automations) | transactional | label | in_app
  scope          text not null check (scope in ('all', 'marketing', 'transactional', 'label', 'in_app')),
  label          text check ((scope = 'label') = (label is not null)),
  -- The channels a send must use to count (and to be capped); empty means every channel.
  channels       text[] not null default '{}',
  max_sends      integer not null check (max_sends >= 1),
  window_amount  integer not null check (window_amount >= 1),
  window_unit    text not null check (window_unit in ('hours', 'days')),
  action         text not null check (action in ('skip', 'defer')),
  -- How long after its creation a deferred message may still go out (defer only).
  max_delay_minutes integer check (max_delay_minutes >= 1),
  enabled        boolean not null default true,
  created_at     timestamptz not null,
  updated_at     timestamptz not null
);
create index capping_rules_project on capping_rules (project_id, id);

-- One counted send: a message reached this profile (on these channels) at sent_at.
create table capping_sends (
  project_id  uuid not null references projects (id) on delete cascade,
  custom_id   text not null,
  message_id  uuid not null,
  sent_at     timestamptz not null,
  -- campaign | automation | transactional, and the campaign's labels when it had any.
  kind        text not null,
  labels      text[] not null default '{}',
  channels    text[] not null,
  primary key (project_id, custom_id, message_id)
);
create index capping_sends_recent on capping_sends (project_id, custom_id, sent_at);
-- The scheduler's upkeep: sends older than the longest window a rule may have (90 days) count no more.
create index capping_sends_old on capping_sends (sent_at);

-- A profile's share of a message held back by a defer rule or quiet hours, fanned out again at
-- release_at by a fan-out job due then (store/capping.ts says why this is exact).
create table capping_deferrals (
  message_id  uuid not null references messages (id) on delete cascade,
  custom_id   text not null,
  release_at  timestamptz not null,
  reason      text not null,
  primary key (message_id, custom_id)
);

-- {"start": "HH:MM", "end": "HH:MM", "action": "defer" | "skip"} in each recipient's local time; null: none.
alter table projects add column quiet_hours jsonb;
