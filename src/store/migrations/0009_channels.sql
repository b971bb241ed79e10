-- A message reaches push, email and SMS recipients: each part is optional (at least one is given,
-- the API checks), and a delivery's platform names its channel ('ios', 'android', 'web', 'email',
-- 'sms'), its token the device token, subscription endpoint, address or number.
alter table messages alter column push drop not null;
alter table messages add column email jsonb, add column sms jsonb;

-- 'skipped': Herald chose not to send (the address is suppressed, the number opted out, the profile
-- unsubscribed from the channel); recorded so the sender sees why, never silently dropped.
alter table deliveries drop constraint if exists deliveries_status_check;
alter table deliveries add constraint deliveries_status_check
  check (status in ('queued', 'sent', 'delivered', 'undelivered', 'failed', 'invalidated', 'expired', 'unknown', 'skipped'));
