-- Addresses a project must not email: hard bounces (an SMTP 5.x.x for the mailbox), one-click
-- unsubscribes (RFC 8058), spam complaints, and entries an operator added. Addresses are stored
-- lower-cased (src/domain/email-address.ts), so one row stands for every spelling of a mailbox.
-- Removing a row (DELETE /v1/email/suppressions/{address}) lets mail go to the address again.

create table email_suppressions (
  project_id  uuid not null references projects(id) on delete cascade,
  address     text not null check (address = lower(address)),
  reason      text not null check (reason in ('hard_bounce', 'unsubscribed', 'complaint', 'manual')),
  detail      text,
  created_at  timestamptz not null default now(),
  primary key (project_id, address)
);
