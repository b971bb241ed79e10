-- The caller's W3C trace (domain/trace-context.ts: `trace-id-flags`), sent on every provider call
-- made for the message; null when the send carried no traceparent (the message id is its trace).
alter table messages add column trace text;
