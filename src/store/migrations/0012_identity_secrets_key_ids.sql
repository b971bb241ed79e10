-- Identity verification for SDK calls (docs/profiles.md): each project's identity secret, sealed
-- with the master key and bound to its row (src/store/identity-secrets.ts). A rotation keeps the
-- previous secret until previous_valid_until, so apps can move to the new one without a gap.
create table project_identity_secrets (
  project_id            uuid primary key references projects(id) on delete cascade,
  sealed                bytea not null,
  previous_sealed       bytea,
  previous_valid_until  timestamptz,
  rotated_at            timestamptz not null default now()
);

-- API keys get an id to be listed and revoked by: the primary key is the key's hash, which must
-- never be shown (it identifies the key to anyone holding it).
alter table api_keys add column id uuid not null default gen_random_uuid();
alter table api_keys add constraint api_keys_id_unique unique (id);
