-- The connection settings each node had when a scheduler last started, so a node removed from or renamed in
-- nodes.toml while it still runs attempts keeps being watched until they end (never a stuck run).
ALTER TABLE nodes ADD COLUMN config TEXT;
