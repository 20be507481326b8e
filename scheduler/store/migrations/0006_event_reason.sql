-- The operator's own words for a destructive action (--reason): the detail says what happened and repeats
-- them for people reading the log, this column keeps them alone for --json and scripts.
ALTER TABLE events ADD COLUMN reason TEXT;
