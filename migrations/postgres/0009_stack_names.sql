-- An instance may run any stack folder Steward loaded (shipped or the operator's): Steward
-- checks the name against the loaded stacks, so the fixed list goes.
ALTER TABLE instances DROP CONSTRAINT IF EXISTS instances_stack_check;
