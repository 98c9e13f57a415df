-- What Steward last learned about each host, and events for the alerts to come.

CREATE TABLE host_status (
    host_id INTEGER PRIMARY KEY REFERENCES hosts (id) ON DELETE CASCADE,
    checked_at TEXT NOT NULL,
    -- reachable, or why not: unreachable, refused, timeout, auth-failed, host-key-unknown,
    -- host-key-changed, no-credential, error
    state TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    -- JSON of the last facts collected, kept when a later check fails.
    facts TEXT,
    facts_at TEXT,
    clock_offset_ms INTEGER
);

-- Things that happened which may need someone's attention (read by the alert rules).
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    study_id INTEGER REFERENCES studies (id) ON DELETE CASCADE,
    instance_id INTEGER REFERENCES instances (id) ON DELETE CASCADE,
    host_id INTEGER REFERENCES hosts (id) ON DELETE CASCADE,
    summary TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_host ON events (host_id);

-- What to watch on a host besides the basics: certificate files (PEM) and service units.
ALTER TABLE hosts ADD COLUMN watch_certificates TEXT NOT NULL DEFAULT '';
ALTER TABLE hosts ADD COLUMN watch_units TEXT NOT NULL DEFAULT '';
