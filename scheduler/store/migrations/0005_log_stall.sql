-- When an attempt's log capture on the bastion began failing (disk full, permissions...): set while it is
-- stalled, so the resumed event can say for how long, even after a scheduler restart.
ALTER TABLE attempts ADD COLUMN log_stalled_at TEXT;
