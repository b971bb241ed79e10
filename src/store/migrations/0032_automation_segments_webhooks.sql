-- Trigger automations, second part (docs/automations.md): entry on entering a segment, and the
-- call-a-webhook step.
--
-- Segment entry. Each profile's entry-history row (automation_profiles, the row entries lock)
-- also says whether the profile was inside the automation's segment when last looked at: only a
-- false -> true transition, seen under that row's lock, enters. Every write to a profile keeps a
-- `$profile` row in automation_inbox (the event names of the API are [a-z0-9_], so the name is
-- never an event's) when a segment automation of its project listens to profile changes, in the
-- statement that writes the profile: the automation loop evaluates the segment for that profile
-- promptly, and an acknowledged change is never missed. A restore (store/backup.ts) sets
-- herald.restoring: the rows it copies are not changes, and its automation_inbox rows are copied.
-- https://www.postgresql.org/docs/current/sql-createtrigger.html (transition tables, statement triggers)
alter table automation_profiles add column in_segment boolean not null default false;

create function herald_automation_profiles_changed() returns trigger language plpgsql as $$
begin
  if current_setting('herald.restoring', true) = 'on' then
    return null;
  end if;
  -- The listening projects are few: hashed once per statement, not probed per row. Only a live
  -- automation takes entries, so a draft's or a stopped one's name keeps nothing.
  insert into automation_inbox (project_id, event_id, custom_id, name, time, attributes)
  select c.project_id, gen_random_uuid(), c.custom_id, '$profile', now(), '{}'::jsonb
    from changed c
   where c.project_id in (select n.project_id from automation_event_names n join automations a on a.id = n.automation_id
                           where n.name = '$profile' and a.state = 'live');
  return null;
end
$$;

create trigger automation_profiles_inserted after insert on profiles
  referencing new table as changed for each statement execute function herald_automation_profiles_changed();
create trigger automation_profiles_updated after update on profiles
  referencing new table as changed for each statement execute function herald_automation_profiles_changed();

-- A webhook step's call, one per (journey, step, attempt) like a send step's message: made in the
-- step's transaction, POSTed by the worker role (worker/automation-webhooks.ts) outside any
-- transaction under a lease, tried again with back-off on 5xx, 429 and network errors up to
-- `max_tries`, then finished: the journey moves on (or exits) in the transaction that records the
-- outcome. Every try carries the same webhook-id (the row's id), so a receiver drops a copy.
create table automation_calls (
  id            uuid primary key,
  project_id    uuid not null,
  journey_id    uuid not null references automation_journeys (id) on delete cascade,
  step          text not null,
  -- The journey's attempt number when the step ran; the journey waits at attempt + 1 until the call ends.
  attempt       integer not null,
  endpoint_id   uuid not null,
  url           text not null,
  -- The rendered JSON body, sent byte for byte on every try.
  body          text not null,
  tries         integer not null default 0,
  max_tries     integer not null,
  -- Where the journey goes once the call ends (the step's next; null completes it), and whether a
  -- call given up on ends the journey instead: the version's, fixed when the step ran.
  next_step     text,
  exit_on_failure boolean not null,
  -- When the next try is due (or, while a try is in flight, when its lease lapses); null once finished.
  due_at        timestamptz,
  outcome       text check (outcome in ('delivered', 'failed', 'cancelled')),
  last_status   integer,
  last_error    text,
  created_at    timestamptz not null,
  finished_at   timestamptz,
  unique (journey_id, step, attempt)
);
create index automation_calls_due on automation_calls (due_at) where outcome is null;
