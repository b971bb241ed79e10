-- SMS: the provider's message id on each delivery (status callbacks find their delivery by it),
-- the segments and encoding each SMS was sent as (Twilio bills per segment), the carrier's final
-- statuses, and the numbers that replied STOP.

alter table deliveries
  add column provider_message_id text,
  add column segments int check (segments > 0),
  add column encoding text check (encoding in ('GSM-7', 'UCS-2'));

-- A status callback names the project (in its URL) and the message SID.
create index deliveries_provider_message on deliveries (project_id, provider_message_id)
  where provider_message_id is not null;

-- 'delivered' and 'undelivered' are what the carrier reported after the provider accepted ('sent').
-- The list is the same as 0008's ('unknown' included), so whichever of the two a database applies
-- last leaves the same constraint.
alter table deliveries drop constraint if exists deliveries_status_check;
alter table deliveries add constraint deliveries_status_check
  check (status in ('queued', 'sent', 'delivered', 'undelivered', 'failed', 'invalidated', 'expired', 'unknown'));

-- Numbers that opted out of a project's SMS (an inbound STOP, or Twilio's 21610). Nothing is sent
-- to them until they opt back in (START, UNSTOP, YES).
create table sms_opt_outs (
  project_id  uuid not null references projects(id) on delete cascade,
  phone       text not null,
  source      text not null,
  created_at  timestamptz not null default now(),
  primary key (project_id, phone)
);
