-- The worker processes alive now, so each takes its share of every provider account's rate and
-- connections (domain/process-share.ts): a row per process, refreshed by its heartbeat, deleted when
-- it stops; a killed process's row stops counting once its heartbeat is stale.
create table worker_processes (
  id uuid primary key,
  host text not null,
  pid integer not null,
  started_at timestamptz not null default now(),
  seen_at timestamptz not null default now()
);
