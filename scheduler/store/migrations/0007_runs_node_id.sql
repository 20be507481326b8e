-- The runs list sorted by node (the console's shift+N) pages by keyset on (node, id): without this index each
-- page would sort every run. Runs without a node sort as '' (first), the same expression the query orders by.
CREATE INDEX runs_node_id ON runs (ifnull(node, ''), id);
