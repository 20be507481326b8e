-- Sluice store, version 1. Times are ISO 8601 UTC text ("2026-11-23T10:00:00.000000Z"), which sorts correctly.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE queues (
    name        TEXT PRIMARY KEY,
    priority    INTEGER NOT NULL DEFAULT 0,
    max_running INTEGER,
    paused      INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE nodes (
    name          TEXT PRIMARY KEY,
    state         TEXT NOT NULL DEFAULT 'unknown',  -- unknown | up | down | refused
    drained       INTEGER NOT NULL DEFAULT 0,
    drain_reason  TEXT,
    drain_deadline TEXT,                    -- after it, running attempts are preempted (TERM, grace, KILL)
    last_error    TEXT,
    last_seen_at  TEXT,
    down_since    TEXT,
    updated_at    TEXT
);

CREATE TABLE backfills (
    id             INTEGER PRIMARY KEY,
    job            TEXT NOT NULL,
    status         TEXT NOT NULL,          -- active | paused | cancelled | done
    max_parallel   INTEGER,
    order_by       TEXT NOT NULL,          -- oldest-first | newest-first
    canary         INTEGER,
    canary_released INTEGER NOT NULL DEFAULT 0,
    range_from     TEXT,
    range_to       TEXT,
    params         TEXT NOT NULL,          -- JSON object applied to every run
    queue          TEXT NOT NULL,
    priority       INTEGER NOT NULL,
    planned        INTEGER NOT NULL,
    skipped        INTEGER NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

CREATE TABLE runs (
    id               INTEGER PRIMARY KEY,
    job              TEXT NOT NULL,
    status           TEXT NOT NULL,
    queue            TEXT NOT NULL,
    priority         INTEGER NOT NULL,
    params           TEXT NOT NULL,        -- JSON object, resolved
    partition_key    TEXT,
    definition       TEXT NOT NULL,        -- JSON snapshot of the job definition it runs with
    idempotency_key  TEXT UNIQUE,
    backfill_id      INTEGER REFERENCES backfills(id),
    backfill_seq     INTEGER,              -- position in the backfill's order
    schedule_tick    TEXT,                 -- the cron tick that created it
    attempt          INTEGER NOT NULL DEFAULT 0,   -- latest attempt number
    attempts_used    INTEGER NOT NULL DEFAULT 0,   -- attempts counted against max_attempts
    node             TEXT,
    exit_code        INTEGER,
    next_attempt_at  TEXT,
    checkpoint_floor INTEGER NOT NULL DEFAULT 0,   -- checkpoints with id <= this are ignored (retry --from-scratch)
    cancel_requested TEXT,                 -- JSON {"by":..., "reason":..., "kill":...} while a kill is pending
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    ended_at         TEXT,
    updated_at       TEXT NOT NULL,
    UNIQUE (job, schedule_tick)
);
CREATE INDEX runs_dispatch ON runs (status, queue, priority DESC, id);
CREATE INDEX runs_job_partition ON runs (job, partition_key, id);
CREATE INDEX runs_backfill ON runs (backfill_id, status);
CREATE INDEX runs_job_id ON runs (job, id);
CREATE INDEX runs_status_id ON runs (status, id);

CREATE TABLE attempts (
    id               INTEGER PRIMARY KEY,
    run_id           INTEGER NOT NULL REFERENCES runs(id),
    number           INTEGER NOT NULL,
    node             TEXT NOT NULL,
    status           TEXT NOT NULL,
    reason           TEXT,
    exit_code        INTEGER,
    error            TEXT,
    pid              INTEGER,
    pid_start        TEXT,
    remote_dir       TEXT NOT NULL,
    checkpoint_in    TEXT,                 -- the checkpoint value it was started with
    started_at       TEXT NOT NULL,
    ended_at         TEXT,
    stdout_offset    INTEGER NOT NULL DEFAULT 0,   -- bytes durably in the bastion's log store
    stderr_offset    INTEGER NOT NULL DEFAULT 0,
    parsed_offset    INTEGER NOT NULL DEFAULT 0,   -- stdout bytes scanned for markers (ends on a line boundary)
    kill_signal_at   TEXT,                 -- when TERM was sent
    kill_reason      TEXT,                 -- timeout | cancelled | fenced
    progress_done    REAL,
    progress_total   REAL,
    progress_message TEXT,
    progress_at      TEXT,
    log_error        TEXT,
    cleaned          INTEGER NOT NULL DEFAULT 0,
    UNIQUE (run_id, number)
);
CREATE INDEX attempts_active ON attempts (status, node);

CREATE TABLE checkpoints (
    id        INTEGER PRIMARY KEY,
    run_id    INTEGER NOT NULL REFERENCES runs(id),
    attempt   INTEGER NOT NULL,
    at        TEXT NOT NULL,
    value     TEXT NOT NULL,
    offset    INTEGER NOT NULL              -- stdout byte offset of the marker line
);
CREATE INDEX checkpoints_run ON checkpoints (run_id, id);

CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    run_id     INTEGER,
    attempt    INTEGER,
    kind       TEXT NOT NULL,
    old_status TEXT,
    new_status TEXT,
    actor      TEXT,                        -- OS user for operator actions, "scheduler" otherwise
    detail     TEXT
);
CREATE INDEX events_run ON events (run_id, id);

CREATE TABLE schedules (
    job        TEXT PRIMARY KEY,
    last_tick  TEXT NOT NULL
);
