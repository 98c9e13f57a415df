-- A replica takes a burst of due schedules for a short while, so replicas share the work.
ALTER TABLE schedules ADD COLUMN claimed_by TEXT;
ALTER TABLE schedules ADD COLUMN claimed_until TEXT;
