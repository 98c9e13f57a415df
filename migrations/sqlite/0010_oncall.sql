-- On-call rotas: per study (or one global rota for studies without one), people take turns a
-- week at a time from a start date at a handoff hour; the next in line is the secondary.
-- Overrides put someone else on call for a while (holidays). Alerts remember how far they have
-- escalated and when they were last mailed.

CREATE TABLE rotas (
    id INTEGER PRIMARY KEY,
    study_id INTEGER REFERENCES studies (id) ON DELETE CASCADE,
    timezone TEXT NOT NULL,
    -- the date the first member's week starts, YYYY-MM-DD, at handoff_hour in timezone
    starts_on TEXT NOT NULL,
    handoff_hour INTEGER NOT NULL CHECK (handoff_hour BETWEEN 0 AND 23),
    escalate_after_minutes INTEGER NOT NULL,
    renotify_minutes INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX rotas_one_per_study ON rotas (COALESCE(study_id, 0));

CREATE TABLE rota_members (
    rota_id INTEGER NOT NULL REFERENCES rotas (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (rota_id, position)
);

CREATE TABLE rota_overrides (
    id INTEGER PRIMARY KEY,
    rota_id INTEGER NOT NULL REFERENCES rotas (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('primary', 'secondary')),
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX rota_overrides_rota ON rota_overrides (rota_id, ends_at);

-- 0: the primary was told; 1: the secondary too; 2: the study's admins too.
ALTER TABLE alerts ADD COLUMN escalation_level INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN notified_at TEXT;
