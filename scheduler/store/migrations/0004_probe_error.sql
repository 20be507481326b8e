-- Why the last probe of a node failed although the node answered (a non-zero exit, output that is not the
-- probe's, e.g. text from a shell startup file); NULL once a probe succeeds again.
ALTER TABLE nodes ADD COLUMN probe_error TEXT;
