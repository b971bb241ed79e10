-- What the targeting language (src/domain/targeting/) reads besides profiles, events and
-- installations: saved segments, custom audiences and their members, and the app-version ordering.

-- A saved segment: a named targeting query (parsed and checked by the API before it is stored).
-- Other queries name it as {"segment": id} and see its current query, expanded at use.
create table segments (
  project_id   uuid not null references projects(id) on delete cascade,
  id           text not null,
  name         text not null,
  description  text,
  query        jsonb not null,
  created_at   timestamptz not null default now(),
  updated_at   timestamptz not null default now(),
  primary key (project_id, id),
  unique (project_id, name)
);

-- A custom audience: a list of custom_ids a project uploads (after the seed platform's custom
-- audiences, https://doc.batch.com/developer/api/cep/audiences/). Members are one narrow row each,
-- keyed for the targeting probe "is this profile in that audience" and for paging an audience.
create table audiences (
  project_id   uuid not null references projects(id) on delete cascade,
  id           text not null,
  name         text not null,
  description  text,
  created_at   timestamptz not null default now(),
  updated_at   timestamptz not null default now(),
  primary key (project_id, id),
  unique (project_id, name)
);

create table audience_members (
  project_id   uuid not null,
  audience_id  text not null,
  custom_id    text not null,
  -- The replace upload that last kept this member (audience_changes.seq): a replace applied
  -- chunk by chunk marks what it keeps, then deletes the unmarked (src/store/audiences.ts).
  kept_by      bigint,
  primary key (project_id, audience_id, custom_id),
  foreign key (project_id, audience_id) references audiences (project_id, id) on delete cascade
);
-- The audiences of given profiles: the targeting evaluator's bulk load and a profile's erasure.
create index audience_members_profile on audience_members (project_id, custom_id);

-- A change to an audience's members, accepted (202) before it is applied: its id is the indexing
-- token the caller polls, in process until applied_at is set. Changes to one audience apply in
-- seq order, so an add then a remove of the same id ends without it. An inline change carries its
-- ids (at most 10,000); an upload's ids are staged as the chunks of a bulk import (import_jobs,
-- import_chunks), applied a chunk per transaction.
create table audience_changes (
  id            uuid primary key,
  project_id    uuid not null,
  audience_id   text not null,
  seq           bigint generated always as identity,
  kind          text not null check (kind in ('add', 'remove', 'replace')),
  custom_ids    text[],
  upload_id     uuid references import_jobs (id) on delete cascade,
  id_count      integer not null,
  created_at    timestamptz not null,
  -- When the reconciler last gave it a job again (JetStream may lose one after commit).
  reconciled_at timestamptz,
  applied_at    timestamptz,
  check ((custom_ids is null) <> (upload_id is null)),
  foreign key (project_id, audience_id) references audiences (project_id, id) on delete cascade
);
create index audience_changes_pending on audience_changes (project_id, audience_id, seq) where applied_at is null;
create index audience_changes_unapplied on audience_changes (created_at) where applied_at is null;

-- "Performed X within the window": one index probe per profile and event name.
create index events_profile_name_time on events (project_id, custom_id, name, time) where custom_id is not null;

-- An app version's leading dotted numbers ("4.10.2 (87)" → {4,10,2}); arrays compare part by
-- part, a prefix first, as compareVersions in src/domain/targeting/versions.ts. NULL when the
-- version starts with no number, so no range matches it.
create function herald_version_parts(v text) returns numeric[] language sql immutable strict as $$
  select string_to_array((regexp_match(v, '^\d{1,15}(?:\.\d{1,15})*'))[1], '.')::numeric[]
$$;
