-- Background work: durable jobs claimed under a lease, per-host results, capped logs, host
-- locks for jobs that change hosts, and cron schedules that fire each due time once.

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    target_kind TEXT NOT NULL CHECK (target_kind IN ('host', 'instance', 'study', 'fleet')),
    -- NULL for the fleet.
    target_id INTEGER,
    target_name TEXT NOT NULL DEFAULT '',
    -- The study the target belongs to (for the per-study limit and access); NULL for the fleet.
    study_id INTEGER REFERENCES studies (id) ON DELETE CASCADE,
    payload TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 1,
    -- "user:NAME" or "schedule:ID".
    requested_by TEXT NOT NULL,
    schedule_id INTEGER,
    created_at TEXT NOT NULL,
    run_after TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    lease_owner TEXT,
    lease_expires_at TEXT,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    total INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    summary TEXT NOT NULL DEFAULT '',
    log_bytes INTEGER NOT NULL DEFAULT 0,
    log_lines INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_queue ON jobs (state, run_after);
CREATE INDEX jobs_created ON jobs (created_at);
CREATE INDEX jobs_study ON jobs (study_id);

CREATE TABLE job_hosts (
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    host_id INTEGER NOT NULL,
    host_name TEXT NOT NULL,
    state TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    started_at TEXT,
    finished_at TEXT,
    PRIMARY KEY (job_id, host_id)
);

CREATE TABLE job_logs (
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);

-- A job that changes a host holds its lock; another such job waits (reads need none).
CREATE TABLE host_locks (
    host_id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE TABLE schedules (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    target_kind TEXT NOT NULL CHECK (target_kind IN ('host', 'instance', 'study', 'fleet')),
    target_id INTEGER,
    study_id INTEGER REFERENCES studies (id) ON DELETE CASCADE,
    payload TEXT NOT NULL DEFAULT '{}',
    cron TEXT NOT NULL,
    timezone TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    catch_up TEXT NOT NULL CHECK (catch_up IN ('once', 'skip')),
    jitter_secs INTEGER NOT NULL DEFAULT 0,
    next_due_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX schedules_due ON schedules (enabled, next_due_at);

-- Each due time of a schedule fires once, however many replicas see it.
CREATE TABLE schedule_runs (
    schedule_id INTEGER NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    due_at TEXT NOT NULL,
    job_id INTEGER,
    -- fired, or missed (Steward was down and the catch-up policy skipped it)
    outcome TEXT NOT NULL,
    PRIMARY KEY (schedule_id, due_at)
);
