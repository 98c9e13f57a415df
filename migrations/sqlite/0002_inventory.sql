-- Studies with per-study roles, their instances and hosts, and the encrypted vault.

CREATE TABLE studies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    contact TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE study_members (
    study_id INTEGER NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('study-admin', 'operator', 'on-call', 'researcher', 'viewer')),
    added_at TEXT NOT NULL,
    PRIMARY KEY (study_id, user_id)
);
CREATE INDEX study_members_user ON study_members (user_id);

CREATE TABLE instances (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    stack TEXT NOT NULL CHECK (stack IN ('emission', 'camcops', 'inloop', 'dcor', 'generic')),
    environment TEXT NOT NULL,
    base_url TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'unknown',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (study_id, name)
);
CREATE INDEX instances_stack ON instances (stack, name);
CREATE INDEX instances_environment ON instances (environment, name);
CREATE INDEX instances_status ON instances (status, name);
CREATE INDEX instances_name ON instances (name);

CREATE TABLE instance_tags (
    instance_id INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (instance_id, tag)
);
CREATE INDEX instance_tags_tag ON instance_tags (tag, instance_id);

CREATE TABLE credentials (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('ssh-key', 'database-password', 'smtp-password', 'api-key')),
    public_part TEXT NOT NULL DEFAULT '',
    fingerprint TEXT NOT NULL DEFAULT '',
    nonce BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT
);

CREATE TABLE hosts (
    id INTEGER PRIMARY KEY,
    instance_id INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    ssh_port INTEGER NOT NULL,
    ssh_user TEXT NOT NULL,
    credential_id INTEGER REFERENCES credentials (id),
    jump_host_id INTEGER REFERENCES hosts (id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (instance_id, name)
);
CREATE INDEX hosts_credential ON hosts (credential_id);

CREATE TABLE host_roles (
    host_id INTEGER NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('web', 'analysis', 'database', 'notebook', 'all')),
    PRIMARY KEY (host_id, role)
);

-- One row: proves the master key in use is the one the vault was written with.
CREATE TABLE vault_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    key_id TEXT NOT NULL,
    nonce BLOB NOT NULL,
    check_value BLOB NOT NULL,
    rotated_at TEXT NOT NULL
);
