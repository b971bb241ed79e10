-- Exports (docs/exports.md): a project's rows streamed page by page into a file in the data folder.
-- Each page is written at `bytes` (the length the file had when the page began, truncated back to it
-- when a page is done again after a crash), then `bytes`, `rows` and `cursor` move in the transaction
-- that enqueues the next page: the file holds exactly the committed pages, once each.
create table exports (
  id           uuid primary key,
  project_id   uuid not null references projects (id) on delete cascade,
  kind         text not null check (kind in ('profiles', 'segment_members', 'events', 'campaign_recipients')),
  format       text not null check (format in ('csv', 'ndjson')),
  -- What the export reads, fixed when it was asked for (a segment's query expanded then, `as_of`
  -- the instant relative dates in it are taken from), so every page reads the same set.
  params       jsonb not null,
  state        text not null check (state in ('running', 'done', 'failed', 'expired')),
  -- Exact when known: counted by the first page.
  total        bigint,
  rows         bigint not null default 0,
  bytes        bigint not null default 0,
  cursor       jsonb,
  page         integer not null default 0,
  error        text,
  created_at   timestamptz not null,
  finished_at  timestamptz,
  -- After this the file is deleted and the export answers 410.
  expires_at   timestamptz not null
);
create index exports_project on exports (project_id, id);
create index exports_expiring on exports (expires_at) where state <> 'expired';
