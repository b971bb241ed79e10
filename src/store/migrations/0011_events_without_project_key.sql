-- events and event_ids take the SDK's event stream, tens of thousands of rows a second. Their
-- foreign key to projects cost PostgreSQL a third of its time per stored event (an index lookup
-- and a KEY SHARE lock of the project's row for every row inserted, into each of the two tables:
-- 9 of 27 us per event, 800-event batches on PostgreSQL 18). Their project_id always comes from
-- the caller's authenticated key, whose project exists.
--
-- What the keys did besides: cascade a project's deletion. Herald deletes no project today;
-- whatever comes to do it must delete the project's events and event_ids rows itself.
alter table events drop constraint events_project_id_fkey;
alter table event_ids drop constraint event_ids_project_id_fkey;
