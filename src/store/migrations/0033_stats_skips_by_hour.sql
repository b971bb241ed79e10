-- Skips read by hour across a project's sources: the project's stats range and the Prometheus
-- counters' recent hours (observability/analytics-metrics.ts). The primary key leads with the
-- source, so without this a recent range read every skip row the project ever had.
create index stats_skips_hourly_project_hour on stats_skips_hourly (project_id, hour);
