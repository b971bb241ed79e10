-- The PostgreSQL work queue (src/queue/postgres/). A job is ready when run_at <= now(); claiming it
-- moves run_at to the end of its lease, so a job a crashed worker held becomes ready again by itself.
-- `attempts` counts claims and doubles as the fencing token: an ack or retry from a worker whose
-- lease already ran out (and whose job was claimed again) changes nothing.

create table jobs (
  id          uuid primary key,
  topic       text not null,
  payload     jsonb not null,
  run_at      timestamptz not null default now(),
  attempts    int not null default 0,
  last_error  text,
  created_at  timestamptz not null default now()
);
create index jobs_ready on jobs (topic, run_at);
-- Every job leaves two dead row versions (its claim and its delete) that claims must step over until
-- vacuumed. The table is small but churns: vacuum it after a fixed number of dead rows, not after a
-- share of its (near-zero) size, and without cost-based pauses.
alter table jobs set (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
                      autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0,
                      autovacuum_analyze_threshold = 5000);

-- Jobs that used up their attempts, kept with their last error for an operator to read or replay.
create table dead_jobs (
  id           uuid primary key,
  topic        text not null,
  payload      jsonb not null,
  attempts     int not null,
  last_error   text not null,
  created_at   timestamptz not null,
  failed_at    timestamptz not null default now()
);
create index dead_jobs_topic on dead_jobs (topic, failed_at);
