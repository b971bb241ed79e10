-- Provider credentials per project, sealed with the master key (src/store/sealed.ts); the project's
-- VAPID key pair; browsers' push subscriptions; and the settings that bind a database to one key.

-- Deployment-wide facts. `master_key_check` holds an HMAC of a constant under the master key, so a
-- process started with another key refuses to start instead of failing to open every secret.
create table settings (
  name        text primary key,
  value       text not null,
  created_at  timestamptz not null default now()
);

-- One row per (project, provider). `sealed` is AES-256-GCM over the secret JSON, bound to its row
-- (project id and provider as additional data): a sealed value copied to another row does not open.
-- `summary` holds only the parts that are safe to show (ids, hosts, public keys, fingerprints).
-- The 'webpush' row is created with the project: its VAPID pair exists before anyone configures it.
create table provider_credentials (
  project_id  uuid not null references projects(id) on delete cascade,
  provider    text not null check (provider in ('apns', 'fcm', 'webpush', 'smtp', 'sms')),
  sealed      bytea not null,
  summary     jsonb not null,
  updated_at  timestamptz not null default now(),
  primary key (project_id, provider)
);

-- A browser's PushSubscription (endpoint, keys.p256dh, keys.auth). push_token holds the endpoint, so
-- fan-out and invalidation treat web installations like any other token.
alter table installations add column web_push_subscription jsonb;
-- The worker finds a web delivery's keys by its token (the endpoint).
create index installations_web_endpoint on installations (project_id, push_token) where platform = 'web';
