-- The dispatcher's claim finds each enabled endpoint's first due deliveries by one ordered index
-- probe, and counts its deliveries in flight from a small index of the claimed rows only, instead of
-- ranking every pending delivery on each claim (which made a backlog's claims cost O(backlog) each).
create index webhook_deliveries_endpoint_due on webhook_deliveries (endpoint_id, next_attempt_at, id) where status = 'pending';
drop index webhook_deliveries_endpoint_pending;
-- A claim sets leased_until; recording its attempt clears it: these are the rows in flight (or whose
-- worker died, until their lease lapses and they are claimed again).
create index webhook_deliveries_leased on webhook_deliveries (endpoint_id) where leased_until is not null;
