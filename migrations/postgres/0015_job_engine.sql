-- A replica takes a burst of due schedules for a short while, so replicas share the work.
ALTER TABLE schedules ADD COLUMN claimed_by TEXT, ADD COLUMN claimed_until TIMESTAMPTZ;

-- Jobs ready to claim, in the order they are claimed: a claim reads its few rows off this
-- index instead of sorting every queued job.
CREATE INDEX jobs_ready ON jobs (run_after, id) WHERE state = 'queued';
