-- A campaign recipient's delivery outcome on its ledger row (docs/campaigns.md, "Outcomes and
-- counts"): deliveries know the custom_id they were fanned out for, a campaign's messages name
-- their occurrence, and the ledger row records what its deliveries came to, written in the
-- transaction that records the deliveries' outcomes (store/campaign-outcomes.ts).

-- The custom_id the fan-out resolved this delivery from (null: named by token, address or number
-- alone, or fanned out before this migration).
alter table deliveries add column custom_id text;
-- A recipient's deliveries in one message: what the ledger's outcome is computed from.
create index deliveries_message_custom_id on deliveries (message_id, custom_id) where custom_id is not null;

-- Which occurrence a campaign message was sent for, and so which ledger partition holds its
-- recipients' rows (planned_at is the partition key).
create table campaign_messages (
  message_id   uuid primary key references messages (id) on delete cascade,
  campaign_id  uuid not null,
  occurrence   integer not null,
  planned_at   timestamptz not null
);
-- A campaign's deliveries by status (its counts).
create index campaign_messages_campaign on campaign_messages (campaign_id, occurrence);

-- outcome, once status is 'sent': delivered (at least one delivery reached the provider or the
-- device), failed (every delivery ended failed, invalidated, expired or unknown), skipped (every
-- delivery was skipped, or none was made); null while a delivery is still queued. `retryable`: a
-- failure that retry-failed sends again (a provider failure, not a dead token or a hard bounce).
-- `resends`: how many times retry-failed set the row pending again.
alter table campaign_recipients
  add column outcome text check (outcome in ('delivered', 'failed', 'skipped')),
  add column outcome_reason text,
  add column retryable boolean not null default false,
  add column resends integer not null default 0;
-- "Finished" looks for rows handed over whose outcome is not known yet.
create index campaign_recipients_awaiting on campaign_recipients (campaign_id, occurrence) where status = 'sent' and outcome is null;

-- The recipient that claimed an address or number: its own retry reaches it again.
alter table campaign_targets add column custom_id text;
