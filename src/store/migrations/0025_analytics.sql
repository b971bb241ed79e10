-- Analytics (docs/analytics.md): hourly counters written by the statement that records each fact
-- (an outcome, a skip, a receipt, an open, a click, a bounce, an unsubscribe), so a counter and
-- its fact commit or roll back together; and the engagements those counters are deduplicated by.

-- One row per (project, source, variant, channel, hour). source_kind/source_id come from the
-- message's group_id (campaign:<id>, automation:<id>, else the transactional group itself);
-- variant is the campaign's A/B variant index ('' when it has none). `hour` is the UTC hour the
-- fact was recorded in, by the caller's clock.
--
-- Each statement adds its batch's counts with `insert ... on conflict do update set x = x +
-- excluded.x`: the row lock that takes serializes writers of one row, so no increment is lost
-- (https://www.postgresql.org/docs/current/sql-insert.html#SQL-ON-CONFLICT). The trade-off is
-- contention: every batch of one campaign's hour waits for the previous batch's commit on that
-- row. A batch adds once per key (the statement groups its facts first), so the wait is per
-- batch, not per delivery; writers take the rows in key order, so two never deadlock.
create table stats_hourly (
  project_id        uuid not null references projects (id) on delete cascade,
  source_kind       text not null check (source_kind in ('campaign', 'transactional', 'automation')),
  source_id         text not null,
  variant           text not null default '',
  channel           text not null,
  hour              timestamptz not null,
  sent              bigint not null default 0,
  delivered         bigint not null default 0,
  failed            bigint not null default 0,
  skipped           bigint not null default 0,
  bounces           bigint not null default 0,
  complaints        bigint not null default 0,
  unsubscribes      bigint not null default 0,
  opens_unique      bigint not null default 0,
  opens_total       bigint not null default 0,
  opens_machine     bigint not null default 0,
  opens_influenced  bigint not null default 0,
  clicks_unique     bigint not null default 0,
  clicks_total      bigint not null default 0,
  primary key (project_id, source_kind, source_id, variant, channel, hour)
);
-- The project's whole range (GET /v1/stats/project) reads by hour across its sources.
create index stats_hourly_project_hour on stats_hourly (project_id, hour);

-- Skips by reason, narrow: a reason is open-ended text (suppressed, opted_out, capping rules...).
create table stats_skips_hourly (
  project_id   uuid not null references projects (id) on delete cascade,
  source_kind  text not null,
  source_id    text not null,
  variant      text not null default '',
  channel      text not null,
  hour         timestamptz not null,
  reason       text not null,
  skipped      bigint not null default 0,
  primary key (project_id, source_kind, source_id, variant, channel, hour, reason)
);

-- One row per engagement, keyed by what makes it the same engagement: a report retried, a pixel
-- loaded twice or a link clicked again finds its row (count and last_at move; the "unique"
-- counter moved only when the row was made). kind: received (a push's receipt from the SDK), open (an email pixel or a push's direct open),
-- influenced_open (an app open soon after a push was received), click (`link` is the link's index
-- in the email; -1 for the others). `machine`: an open made by a proxy that fetches every image
-- (Apple Mail Privacy Protection), recorded and counted apart.
create table engagements (
  project_id   uuid not null references projects (id) on delete cascade,
  delivery_id  uuid not null references deliveries (id) on delete cascade,
  kind         text not null check (kind in ('received', 'open', 'influenced_open', 'click')),
  link         integer not null default -1,
  machine      boolean not null default false,
  count        integer not null default 1,
  first_at     timestamptz not null,
  last_at      timestamptz not null,
  primary key (delivery_id, kind, link, machine)
);

-- The A/B variant a campaign message was made for ('' when the campaign has one): the stats of
-- its deliveries are counted under it. Null on messages sent before this migration ('').
alter table campaign_messages add column variant text;

-- An app open credits the push its installation received last (within the influence window).
create index deliveries_install_received on deliveries (project_id, install_id, received_at) where received_at is not null;
