-- The durable "attempting" record and what the reconciler needs.
--
-- sending_until: set, and committed, before a delivery's provider call; cleared with its outcome. A
-- delivery found with it set and no outcome was being sent when its worker died: the outcome is
-- unknown (the provider may or may not have it). While it lies in the future, another job for the
-- same delivery waits instead of sending concurrently.
-- due_at: when the delivery's current job is due (now at fan-out, later after a retry). A queued
-- delivery long past due with no attempt under way has lost its job; the reconciler enqueues another.
-- messages.reconciled_at: the last time the reconciler re-enqueued a message's fan-out.
alter table deliveries
  add column sending_until timestamptz,
  add column due_at timestamptz not null default now();
alter table messages add column reconciled_at timestamptz;

create index deliveries_queued_due on deliveries (due_at) where status = 'queued';
create index messages_unfanned on messages (created_at) where fanned_out_at is null;

-- 'unknown': the provider call's outcome was lost in a crash and the channel cannot re-send without
-- risking a second message (SMS has no provider-side key); an operator decides.
alter table deliveries drop constraint if exists deliveries_status_check;
alter table deliveries add constraint deliveries_status_check
  check (status in ('queued', 'sent', 'delivered', 'undelivered', 'failed', 'invalidated', 'expired', 'unknown'));
