-- Email feedback (docs/analytics.md, "Bounces and complaints"): asynchronous bounces (RFC 3464
-- delivery status notifications) and spam complaints (RFC 5965 feedback reports) posted to
-- POST /v1/email/feedback are engagements of the delivery they report on, deduplicated by
-- (delivery, kind) as the others are: the same report posted twice finds its row, and the counter
-- it moves (bounces, complaints) moved only when the row was made. A soft bounce (a 4.x.x status)
-- is recorded and counts nothing.
alter table engagements drop constraint engagements_kind_check,
  add constraint engagements_kind_check
    check (kind in ('received', 'open', 'influenced_open', 'click', 'bounce', 'soft_bounce', 'complaint'));

-- What the report said, for an operator: a bounce's status and diagnostic, a complaint's type.
alter table engagements add column detail text;

-- A report that names no Herald message is tied to the last email to its address, and an SMS STOP
-- to the last text to its number: one index probe each.
create index deliveries_project_target on deliveries (project_id, platform, lower(target), created_at)
  where platform in ('email', 'sms');
