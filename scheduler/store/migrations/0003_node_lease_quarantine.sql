-- The lease each attempt was granted (seconds its node may stay unreachable before it is given up), recorded at
-- dispatch and kept current by the scheduler, so the CLI and console can say when an unreachable node's attempt
-- would be given up without knowing the scheduler's --node-lost-after.
ALTER TABLE attempts ADD COLUMN lost_after REAL;
-- Quarantine: infrastructure failures in a row on a node (launch failed, not sent, vanished, node lost); at the
-- node's quarantine_after it takes no new work until a health check after the cool-down or an undrain.
ALTER TABLE nodes ADD COLUMN infra_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN quarantined_at TEXT;
ALTER TABLE nodes ADD COLUMN quarantine_reason TEXT;
