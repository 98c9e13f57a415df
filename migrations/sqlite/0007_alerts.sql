-- Alerts: one per (rule, target) while not resolved; acknowledged from the UI or by a one-time
-- link mailed to the people told.

CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    rule TEXT NOT NULL,
    -- host:ID, schedule:ID...
    target_key TEXT NOT NULL,
    host_id INTEGER REFERENCES hosts (id) ON DELETE CASCADE,
    study_id INTEGER REFERENCES studies (id) ON DELETE CASCADE,
    severity TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
    summary TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    opened_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    acknowledged_at TEXT,
    acknowledged_by TEXT,
    resolved_at TEXT
);
CREATE UNIQUE INDEX alerts_one_unresolved ON alerts (rule, target_key) WHERE state <> 'resolved';
CREATE INDEX alerts_state ON alerts (state, opened_at);

-- Acknowledge links: stored hashed, for one alert, single use, expiring.
CREATE TABLE alert_links (
    token_hash TEXT PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    recipient TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
