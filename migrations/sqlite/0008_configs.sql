-- Config management: immutable revisions of an instance's settings, what was last pushed to
-- each host (for drift detection), and the vault's sealed values for secret settings.

CREATE TABLE config_revisions (
    id INTEGER PRIMARY KEY,
    instance_id INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    stack TEXT NOT NULL,
    -- JSON object: each setting's typed value; a secret is {"sealed": <sealed_values.id>}
    settings TEXT NOT NULL,
    message TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (instance_id, number)
);

-- Secrets that belong to something other than a credential (secret settings). The scope is
-- bound into the ciphertext, so a value cannot be moved to another setting.
CREATE TABLE sealed_values (
    id INTEGER PRIMARY KEY,
    scope TEXT NOT NULL UNIQUE,
    instance_id INTEGER REFERENCES instances (id) ON DELETE CASCADE,
    nonce BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX sealed_values_instance ON sealed_values (instance_id);

CREATE TABLE host_configs (
    host_id INTEGER PRIMARY KEY REFERENCES hosts (id) ON DELETE CASCADE,
    revision_id INTEGER REFERENCES config_revisions (id) ON DELETE SET NULL,
    job_id INTEGER,
    pushed_at TEXT,
    drift TEXT NOT NULL DEFAULT 'unknown' CHECK (drift IN ('unknown', 'in-sync', 'drifted')),
    -- JSON array of the paths that differ from what was pushed
    drift_files TEXT NOT NULL DEFAULT '[]',
    checked_at TEXT
);

-- The files of the last push to each host, with the checksum they were written with.
CREATE TABLE host_config_files (
    host_id INTEGER NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (host_id, path)
);
