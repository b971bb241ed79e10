-- Profiles (one per custom_id), their events, the client event ids that make SDK retries harmless,
-- and bulk imports (docs/profiles.md).

-- A profile is created by its first write. Native fields are columns (the email and SMS channels
-- read email, phone and the subscription states); custom attributes live in one jsonb document
-- (src/domain/profile-operations.ts: dates and URLs are stored as {"$date": iso} / {"$url": url}).
create table profiles (
  project_id          uuid not null references projects(id) on delete cascade,
  custom_id           text not null,
  email               text,
  phone               text,
  language            text,
  region              text,
  timezone            text,
  email_subscription  text check (email_subscription in ('subscribed', 'unsubscribed')),
  sms_subscription    text check (sms_subscription in ('subscribed', 'unsubscribed')),
  attributes          jsonb not null default '{}',
  created_at          timestamptz not null default now(),
  updated_at          timestamptz not null default now(),
  primary key (project_id, custom_id)
);
create index profiles_email on profiles (project_id, email) where email is not null;
create index profiles_phone on profiles (project_id, phone) where phone is not null;

-- Custom attributes set by the SDK before the installation is identified; they move to the profile
-- on identify. A null value records an unset, so it carries over too.
alter table installations add column attributes jsonb not null default '{}';

-- Delivery feedback from the SDK (POST /v1/sdk/push-events); the first report wins.
alter table deliveries add column received_at timestamptz, add column opened_at timestamptz;

create table events (
  project_id   uuid not null references projects(id) on delete cascade,
  id           uuid not null,
  client_id    text,
  custom_id    text,
  install_id   text,
  name         text not null,
  time         timestamptz not null,
  attributes   jsonb not null default '{}',
  received_at  timestamptz not null default now(),
  primary key (project_id, id)
);
create index events_profile_recent on events (project_id, custom_id, time desc) where custom_id is not null;
create index events_installation_recent on events (project_id, install_id, time desc) where install_id is not null;

-- Dedupe of client-generated ids (events, push events and attribute changes share one namespace per
-- project). Kept apart from `events` so the window does not depend on how long events are kept or
-- whether they were erased: a retry of an erased event is still recognised and not stored again.
-- Rows hold no personal data and are pruned by the scheduler after eventIdRetentionDays.
create table event_ids (
  project_id  uuid not null references projects(id) on delete cascade,
  client_id   text not null,
  seen_at     timestamptz not null default now(),
  primary key (project_id, client_id)
);
create index event_ids_age on event_ids (seen_at);

-- POST /v1/profiles/bulk: the upload is stored in chunks in the transaction that creates the import
-- and enqueues its job; the worker applies each chunk in one transaction that also stamps it, so a
-- redelivered job never applies a chunk twice.
create table import_jobs (
  id                uuid primary key,
  project_id        uuid not null references projects(id) on delete cascade,
  state             text not null default 'queued' check (state in ('queued', 'running', 'done')),
  total_lines       int not null,
  total_chunks      int not null,
  processed_lines   int not null default 0,
  failed_lines      int not null default 0,
  created_at        timestamptz not null default now(),
  finished_at       timestamptz
);
create index import_jobs_project on import_jobs (project_id, created_at);

create table import_chunks (
  import_id   uuid not null references import_jobs(id) on delete cascade,
  chunk_no    int not null,
  first_line  int not null,
  line_count  int not null,
  -- The raw NDJSON lines; emptied once applied, so personal data does not linger here.
  body        text not null,
  applied_at  timestamptz,
  primary key (import_id, chunk_no)
);

-- The first failing lines of an import (capped: import_jobs.failed_lines counts them all). The
-- message names the field, never its value.
create table import_errors (
  import_id  uuid not null references import_jobs(id) on delete cascade,
  line       int not null,
  field      text not null,
  message    text not null,
  primary key (import_id, line)
);

-- Applies one operation's attribute changes to a document: unset, then set, then per array
-- attribute either $add (values move to the end, the newest max_items are kept; a value that was
-- not an array becomes one) or $remove (only from an array). An array left empty is removed. Mirrors applyAttributeChanges in src/domain/profile-operations.ts.
create function herald_apply_attributes(doc jsonb, unset_names text[], sets jsonb, adds jsonb, removes jsonb, max_items int)
returns jsonb language sql immutable as $$
  with base as (
    select (coalesce(doc, '{}') - coalesce(unset_names, '{}')) || coalesce(sets, '{}') as d
  ),
  changed as (
    select a.key, (
      select coalesce(jsonb_agg(v order by ord), '[]')
      from (
        select v, ord from (
          select e.v, e.ord
          from jsonb_array_elements_text(case when jsonb_typeof(base.d -> a.key) = 'array' then base.d -> a.key else '[]' end)
               with ordinality e(v, ord)
          where not (a.value ? e.v)
          union all
          select x.v, 1000000 + x.ord from jsonb_array_elements_text(a.value) with ordinality x(v, ord)
        ) s
        order by ord desc limit max_items
      ) t
    ) as value
    from base, jsonb_each(coalesce(adds, '{}')) a
    union all
    select r.key, (
      select coalesce(jsonb_agg(e.v order by e.ord), '[]')
      from jsonb_array_elements_text(case when jsonb_typeof(base.d -> r.key) = 'array' then base.d -> r.key else '[]' end)
           with ordinality e(v, ord)
      where not (r.value ? e.v)
    )
    from base, jsonb_each(coalesce(removes, '{}')) r
    where jsonb_typeof(base.d -> r.key) = 'array'
  )
  select (base.d - coalesce((select array_agg(key) from changed), '{}'))
         || coalesce((select jsonb_object_agg(key, value) from changed where value <> '[]'::jsonb), '{}')
  from base
$$;
