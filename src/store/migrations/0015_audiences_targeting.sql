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
  primary key (project_id, audience_id, custom_id),
  foreign key (project_id, audience_id) references audiences (project_id, id) on delete cascade
);

-- "Performed X within the window": one index probe per profile and event name.
create index events_profile_name_time on events (project_id, custom_id, name, time) where custom_id is not null;

-- An app version's leading dotted numbers ("4.10.2 (87)" → {4,10,2}); arrays compare part by
-- part, a prefix first, as compareVersions in src/domain/targeting/versions.ts. NULL when the
-- version starts with no number, so no range matches it.
create function herald_version_parts(v text) returns numeric[] language sql immutable strict as $$
  select string_to_array((regexp_match(v, '^\d{1,15}(?:\.\d{1,15})*'))[1], '.')::numeric[]
$$;
