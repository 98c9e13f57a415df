-- Login throttling reserves each attempt in one statement before the password is checked, so
-- times are whole Unix seconds the statement can compute with. The counters are short-lived;
-- they start empty.
DROP TABLE login_throttle;
CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL,
    blocked_until INTEGER NOT NULL DEFAULT 0
);
