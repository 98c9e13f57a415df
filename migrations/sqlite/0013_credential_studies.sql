-- An SSH key is used only by the studies an admin shared it with. Keys already in use are
-- shared with the studies of the hosts that use them.
CREATE TABLE credential_studies (
    credential_id INTEGER NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    study_id INTEGER NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
    PRIMARY KEY (credential_id, study_id)
);
CREATE INDEX credential_studies_study ON credential_studies (study_id);
INSERT INTO credential_studies (credential_id, study_id)
    SELECT DISTINCT h.credential_id, i.study_id FROM hosts h JOIN instances i ON i.id = h.instance_id
    WHERE h.credential_id IS NOT NULL;
