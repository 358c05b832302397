-- Event status and type are enums in Python (mnemo.domain.events); the database holds the same values.
ALTER TABLE events ADD CONSTRAINT events_status_known
    CHECK (status IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED'));
ALTER TABLE events ADD CONSTRAINT events_type_known
    CHECK (event_type IN ('ADD', 'DELETE'));
