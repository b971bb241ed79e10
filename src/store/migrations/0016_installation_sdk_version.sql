-- The Herald SDK version an installation runs (sent by the SDK at registration), for targeting
-- ("installations on SDK 1.4 or later") as app versions are: herald_version_parts orders it.
alter table installations add column sdk_version text;
