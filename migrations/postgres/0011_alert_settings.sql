-- Per-study alert settings: thresholds for the fact rules, quiet hours (non-critical alerts
-- opened then are mailed when they end) and a daily digest. Studies without a row use the
-- defaults.

CREATE TABLE alert_settings (
    study_id BIGINT PRIMARY KEY REFERENCES studies (id) ON DELETE CASCADE,
    disk_percent BIGINT NOT NULL CHECK (disk_percent BETWEEN 1 AND 100),
    cert_days BIGINT NOT NULL CHECK (cert_days BETWEEN 1 AND 365),
    clock_ms BIGINT NOT NULL CHECK (clock_ms BETWEEN 10 AND 600000),
    timezone TEXT NOT NULL,
    quiet_from_hour BIGINT CHECK (quiet_from_hour BETWEEN 0 AND 23),
    quiet_until_hour BIGINT CHECK (quiet_until_hour BETWEEN 0 AND 23),
    daily_digest BOOLEAN NOT NULL DEFAULT FALSE,
    digest_hour BIGINT NOT NULL DEFAULT 8 CHECK (digest_hour BETWEEN 0 AND 23),
    -- the local date of the last digest sent, YYYY-MM-DD
    last_digest_on TEXT,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Opened during quiet hours and not mailed yet.
ALTER TABLE alerts ADD COLUMN deferred BOOLEAN NOT NULL DEFAULT FALSE;
