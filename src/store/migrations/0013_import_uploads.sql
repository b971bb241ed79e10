-- A bulk upload is staged chunk by chunk, each chunk in its own short transaction, so no
-- transaction (nor pooled connection) waits on a client's body. While the body streams in, its
-- import is 'uploading': it has no job, and GET /v1/jobs does not show it. Once the body is
-- complete one transaction makes it 'queued' and enqueues its job. An upload that failed or was
-- cut short is deleted by the API at once, or (when the process died) by the scheduler's upkeep.
alter table import_jobs drop constraint import_jobs_state_check;
alter table import_jobs add constraint import_jobs_state_check check (state in ('uploading', 'queued', 'running', 'done'));
create index import_jobs_uploading on import_jobs (created_at) where state = 'uploading';
