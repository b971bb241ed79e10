-- The inbox (docs/inbox.md): one item per message flagged `push.inbox` per owner, written by the
-- fan-out in the transaction that writes the message's deliveries. The owner is the profile
-- (owner_kind 'profile', owner = custom_id) every device of which shares the item, or an
-- installation without a custom_id (owner_kind 'installation', owner = install_id).
--
-- Partitioned by week of the message's created_at: retention drops whole weeks (store/inbox.ts),
-- never deletes row by row. created_at is the message's, so a fan-out run twice for one message
-- meets the same primary key and adds nothing: the key is (owner, message) with the partition key.
create table inbox_items (
  project_id   uuid not null,
  owner_kind   text not null check (owner_kind in ('profile', 'installation')),
  owner        text not null,
  created_at   timestamptz not null,
  message_id   uuid not null,
  -- What the inbox shows, copied from the message's push part when the item is written: the
  -- message row can be erased or changed without the inbox losing or changing its text.
  title        text not null,
  body         text not null,
  deeplink     text,
  data         jsonb,
  -- Per-item state; unread means read_at is null (opening or archiving an item also reads it).
  read_at      timestamptz,
  opened_at    timestamptz,
  archived_at  timestamptz,
  primary key (project_id, owner_kind, owner, created_at, message_id)
) partition by range (created_at);
-- The unread count reads this small index only: exact, and as cheap as the number of unread items.
create index inbox_items_unread on inbox_items (project_id, owner_kind, owner) where read_at is null;
