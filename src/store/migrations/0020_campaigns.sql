-- Campaigns (docs/campaigns.md): a definition, its occurrences (one for a one-off campaign, one per
-- date of a recurring one) and the ledger: one narrow row per recipient per occurrence, written as
-- the audience is streamed in keyset pages, whose status is the recipient's outcome. A campaign's
-- counts are read from the ledger, so "finished" means every recipient has an outcome.

-- The zone a local-time campaign falls back to for profiles without a known time zone.
alter table projects add column timezone text not null default 'UTC';

create table campaigns (
  id           uuid primary key,
  project_id   uuid not null references projects (id) on delete cascade,
  name         text not null,
  state        text not null check (state in ('draft', 'scheduled', 'running', 'paused', 'stopped', 'finished')),
  -- The definition as the API took it (parsed again when used: domain/campaigns/definition.ts).
  definition   jsonb not null,
  labels       text[] not null default '{}',
  -- Messages per minute, held across every worker process by the bucket below; null: unlimited.
  send_rate    integer check (send_rate between 1000 and 1000000),
  rate_tokens  double precision not null default 0,
  rate_at      timestamptz,
  -- The last occurrence planned (0: none yet).
  occurrences  integer not null default 0,
  created_at   timestamptz not null,
  updated_at   timestamptz not null,
  started_at   timestamptz,
  finished_at  timestamptz
);
create index campaigns_project on campaigns (project_id, id);
-- The scheduler's look: campaigns that may have an occurrence to plan.
create index campaigns_scheduled on campaigns (state) where state in ('scheduled', 'running');

create table campaign_occurrences (
  campaign_id  uuid not null references campaigns (id) on delete cascade,
  occurrence   integer not null,
  project_id   uuid not null,
  -- Partition key of its ledger rows: when the occurrence was planned.
  planned_at   timestamptz not null,
  -- fanning_out: the audience is being streamed into the ledger, `cursor` the last custom_id written.
  -- A recurring occurrence's date (its local date in the rule), null for a one-off campaign.
  local_date   date,
  state        text not null check (state in ('fanning_out', 'sending', 'done', 'stopped')),
  cursor       text not null default '',
  -- The live link of the occurrence's send chain: a send job carrying another number exits, so
  -- however many jobs were enqueued (fan-out, resume, retry) one chain runs.
  chain        integer not null default 0,
  targeted     integer not null default 0,
  done_at      timestamptz,
  primary key (campaign_id, occurrence)
);

create table campaign_recipients (
  campaign_id  uuid not null,
  occurrence   integer not null,
  planned_at   timestamptz not null,
  custom_id    text not null,
  -- 0..7: the A/B variant; -1: the control group (never sent, counted).
  variant      smallint not null,
  due_at       timestamptz not null,
  -- pending: waiting for its send time (or the send rate); sent: handed to the delivery pipeline as
  -- `message_id`; skipped: never sent, `reason` says why; failed: the hand-over failed.
  status       text not null check (status in ('pending', 'sent', 'skipped', 'failed')),
  reason       text,
  channel      text,
  message_id   uuid,
  updated_at   timestamptz not null,
  primary key (campaign_id, occurrence, custom_id, planned_at)
) partition by range (planned_at);
-- The send step's look: an occurrence's pending rows by due time.
create index campaign_recipients_due on campaign_recipients (campaign_id, occurrence, due_at) where status = 'pending';

-- Email campaigns reach an address once and SMS campaigns a number once per occurrence, whichever
-- profiles share it: the first recipient to claim it is sent, the others are skipped.
create table campaign_targets (
  campaign_id  uuid not null,
  occurrence   integer not null,
  target       text not null,
  primary key (campaign_id, occurrence, target)
);
