-- Deleting a memory forgets its text in the stored responses of the adds that wrote it: find them by event.
CREATE INDEX idempotency_keys_event ON idempotency_keys (project_id, (response ->> 'event_id'));
