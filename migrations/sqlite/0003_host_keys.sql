-- Host keys: offered by a scan, pinned by an admin. Steward connects only to pinned keys.

CREATE TABLE host_keys (
    id INTEGER PRIMARY KEY,
    host_id INTEGER NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    algorithm TEXT NOT NULL,
    public_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    pinned BOOLEAN NOT NULL DEFAULT FALSE,
    seen_at TEXT NOT NULL,
    pinned_at TEXT,
    pinned_by TEXT,
    UNIQUE (host_id, public_key)
);

-- unknown: no key pinned yet; pinned: connections allowed; changed: the host presented another key.
ALTER TABLE hosts ADD COLUMN host_key_status TEXT NOT NULL DEFAULT 'unknown';
