-- An instance may run any stack folder Steward loaded (shipped or the operator's), so the list
-- of names in the CHECK goes; Steward checks the name against the loaded stacks. Dropping a CHECK
-- changes nothing on disk, and rebuilding the table would cascade-delete its hosts, so the stored
-- definition is edited in place (the procedure SQLite documents for this).
PRAGMA writable_schema = ON;
UPDATE sqlite_master
SET sql = replace(sql, ' CHECK (stack IN (''emission'', ''camcops'', ''inloop'', ''dcor'', ''generic''))', '')
WHERE type = 'table' AND name = 'instances';
PRAGMA writable_schema = OFF;
-- Any schema change bumps the schema cookie, so every connection re-reads the definitions.
CREATE TABLE steward_schema_touch (x INTEGER);
DROP TABLE steward_schema_touch;
