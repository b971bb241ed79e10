-- Projects, their keys, installations, transactional messages and their per-recipient deliveries.

create table projects (
  id          uuid primary key,
  name        text not null,
  created_at  timestamptz not null default now()
);

-- API keys are stored only as SHA-256 hashes: they are 32 random bytes, so a slow hash adds nothing.
create table api_keys (
  key_hash    bytea primary key,
  project_id  uuid not null references projects(id) on delete cascade,
  kind        text not null check (kind in ('rest', 'sdk')),
  created_at  timestamptz not null default now(),
  revoked_at  timestamptz
);
create index api_keys_project on api_keys (project_id);

create table installations (
  project_id        uuid not null references projects(id) on delete cascade,
  install_id        text not null,
  platform          text not null check (platform in ('ios', 'android', 'web')),
  push_token        text,
  custom_id         text,
  timezone          text,
  language          text,
  app_version       text,
  apns_environment  text check (apns_environment in ('production', 'sandbox')),
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now(),
  primary key (project_id, install_id)
);
create index installations_custom_id on installations (project_id, custom_id) where custom_id is not null;

-- Tokens a provider declared dead (APNs 410 Unregistered, 400 BadDeviceToken...). Nothing more is
-- sent to them until an installation registers the token again.
create table invalidated_tokens (
  project_id      uuid not null references projects(id) on delete cascade,
  platform        text not null,
  token           text not null,
  reason          text not null,
  invalidated_at  timestamptz not null default now(),
  primary key (project_id, platform, token)
);

create table messages (
  id                uuid primary key,
  project_id        uuid not null references projects(id) on delete cascade,
  kind              text not null default 'transactional',
  group_id          text not null,
  recipients        jsonb not null,
  push              jsonb not null,
  expires_at        timestamptz,
  created_at        timestamptz not null default now(),
  fanned_out_at     timestamptz
);
create index messages_project on messages (project_id, created_at);

-- One row per (message, recipient token). Its id is the apns-id sent with every attempt, so a
-- retry after a crash between "sent" and "recorded" is recognisable by the device and by Apple.
create table deliveries (
  id              uuid primary key,
  message_id      uuid not null references messages(id) on delete cascade,
  project_id      uuid not null,
  platform        text not null,
  token           text not null,
  install_id      text,
  apns_environment text,
  status          text not null default 'queued'
                  check (status in ('queued', 'sent', 'failed', 'invalidated', 'expired')),
  reason          text,
  attempts        int not null default 0,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now(),
  unique (message_id, platform, token)
);
create index deliveries_message_page on deliveries (message_id, id);

-- Stripe's idempotency contract: same key and body replay the stored answer; another body is a 422.
create table idempotency_keys (
  project_id       uuid not null references projects(id) on delete cascade,
  key              text not null,
  request_hash     bytea not null,
  response_status  int not null,
  response_body    jsonb not null,
  created_at       timestamptz not null default now(),
  primary key (project_id, key)
);
create index idempotency_keys_age on idempotency_keys (created_at);
