-- Acknowledge links are made when a message is sent, not stored in its body: the outbox names
-- the alert, and the body holds a marker the sender replaces with a fresh one-time link.
ALTER TABLE outbox ADD COLUMN ack_alert_id BIGINT;
