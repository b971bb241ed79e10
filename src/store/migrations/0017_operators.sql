-- The people who run Herald from its dashboard: operators, their role in each project, their
-- sessions, the failed logins the limiter counts, and the audit log of every change they make.

-- The first operator, created on a new install's first visit, is the instance owner: owner of
-- every project, present and future. Others hold a role per project (operator_roles).
create table operators (
  id              uuid primary key,
  email           text not null,
  name            text not null default '',
  -- scrypt, with its parameters and salt (src/domain/password.ts); never the password.
  password_hash   text not null,
  instance_owner  boolean not null default false,
  created_at      timestamptz not null,
  updated_at      timestamptz not null
);
create unique index operators_email on operators (lower(email));

create table operator_roles (
  operator_id  uuid not null references operators (id) on delete cascade,
  project_id   uuid not null references projects (id) on delete cascade,
  role         text not null check (role in ('owner', 'admin', 'editor', 'viewer')),
  primary key (operator_id, project_id)
);
create index operator_roles_project on operator_roles (project_id);

-- A session is its token's SHA-256 (the token itself lives only in the browser's HttpOnly
-- cookie); csrf_token is the synchronizer token the dashboard echoes in X-CSRF-Token.
create table operator_sessions (
  token_hash    bytea primary key,
  operator_id   uuid not null references operators (id) on delete cascade,
  csrf_token    text not null,
  created_at    timestamptz not null,
  expires_at    timestamptz not null,
  last_seen_at  timestamptz not null
);
create index operator_sessions_operator on operator_sessions (operator_id);

-- Failed logins within the limiter's window, per email and per client address.
create table login_failures (
  email  text not null,
  ip     text not null,
  at     timestamptz not null
);
create index login_failures_email on login_failures (email, at);
create index login_failures_ip on login_failures (ip, at);

-- Every change made by an operator: who, what, when, the state before and after.
create table audit_log (
  id           bigint generated always as identity primary key,
  at           timestamptz not null,
  operator_id  uuid,
  operator_email text not null,
  project_id   uuid,
  action       text not null,
  target       text,
  before       jsonb,
  after        jsonb,
  ip           text
);
create index audit_log_project on audit_log (project_id, id);
