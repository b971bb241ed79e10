-- One vocabulary for what a message carries and whom a delivery reaches (docs/architecture.md,
-- "Channels"): a message's content is one JSON document keyed by content part ("push", shared by the
-- apns, fcm and webpush channels; "email"; "sms"), so a new channel adds a key, not a column; a
-- delivery's target is what its channel sends to, and its target_kind says what that is.

alter table messages add column content jsonb;
-- Each part that was stored becomes a key, as it was (no stripping: a null inside a part stays).
update messages set content =
     (case when push is null or jsonb_typeof(push) = 'null' then '{}'::jsonb else jsonb_build_object('push', push) end)
  || (case when email is null or jsonb_typeof(email) = 'null' then '{}'::jsonb else jsonb_build_object('email', email) end)
  || (case when sms is null or jsonb_typeof(sms) = 'null' then '{}'::jsonb else jsonb_build_object('sms', sms) end);
alter table messages alter column content set not null,
  add constraint messages_content_object check (jsonb_typeof(content) = 'object');
alter table messages drop column push, drop column email, drop column sms;

-- deliveries.token held device tokens, subscription endpoints, addresses and numbers alike.
alter table deliveries rename column token to target;
alter table deliveries rename constraint deliveries_message_id_platform_token_key to deliveries_message_id_platform_target_key;
alter table deliveries add column target_kind text;
update deliveries set target_kind = case platform
  when 'ios' then 'token' when 'android' then 'token' when 'web' then 'subscription'
  when 'email' then 'address' when 'sms' then 'number' end;
alter table deliveries alter column target_kind set not null,
  add constraint deliveries_target_kind_check check (target_kind in ('token', 'subscription', 'address', 'number'));
