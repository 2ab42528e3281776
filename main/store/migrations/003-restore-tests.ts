import type { Migration } from './types.js';

/**
 * Schema 3: restore tests.
 *
 * `runs.kind` also allows 'restore-test' (restore drills are runs like
 * backups); SQLite cannot change a CHECK constraint in place, so `runs` is
 * rebuilt (create, copy, drop, rename) with its indexes.
 *
 * `restore_tests` holds the evidence record of every restore test: what was
 * tested (job, or a bare repository for CLI tests without a job; the job's
 * name is kept so the record outlives the job: deleting the job or run sets
 * the reference to NULL, never deletes evidence), the snapshot, the scope
 * and its seed, the sample (JSON list of snapshot paths), the results
 * (counts, mismatches and files not restored as JSON lists of
 * `{path, reason}`), timings and the target RTO, pass/fail with the
 * reasons, the operator's sign-off, the app version and the sandbox.
 * A passing test has no mismatch and no file left unrestored; an operator
 * and a sign-off time come together. Times have `Date#toISOString()` form.
 */
export const migration: Migration = {
  version: 3,
  name: 'restore-tests',
  up(db) {
    db.exec(`
      CREATE TABLE runs_new (
        id               INTEGER PRIMARY KEY,
        job_id           INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        kind             TEXT NOT NULL,
        "trigger"        TEXT NOT NULL,
        scheduled_for    TEXT,
        queued_at        TEXT NOT NULL,
        started_at       TEXT,
        ended_at         TEXT,
        status           TEXT NOT NULL,
        phase            TEXT,
        reason           TEXT,
        snapshot_id      TEXT,
        files_new        INTEGER NOT NULL DEFAULT 0,
        files_changed    INTEGER NOT NULL DEFAULT 0,
        files_unmodified INTEGER NOT NULL DEFAULT 0,
        bytes_processed  INTEGER NOT NULL DEFAULT 0,
        bytes_added      INTEGER NOT NULL DEFAULT 0,
        error_count      INTEGER NOT NULL DEFAULT 0,
        error            TEXT,
        log              TEXT NOT NULL DEFAULT '',
        acknowledged     INTEGER NOT NULL DEFAULT 0,
        CONSTRAINT runs_kind_known
          CHECK (kind IN ('backup', 'prune', 'check', 'restore-test')),
        CONSTRAINT runs_trigger_known
          CHECK ("trigger" IN ('schedule', 'manual', 'catch-up')),
        CONSTRAINT runs_status_known
          CHECK (status IN ('queued', 'running', 'success', 'partial', 'failed', 'skipped', 'cancelled')),
        CONSTRAINT runs_scheduled_for_null_iff_manual
          CHECK ((scheduled_for IS NULL) = ("trigger" = 'manual')),
        CONSTRAINT runs_scheduled_for_iso8601
          CHECK (scheduled_for IS NULL OR (length(scheduled_for) = 24 AND scheduled_for GLOB
                 '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z')),
        CONSTRAINT runs_queued_at_iso8601
          CHECK (length(queued_at) = 24 AND queued_at GLOB
                 '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
        CONSTRAINT runs_started_at_iso8601
          CHECK (started_at IS NULL OR (length(started_at) = 24 AND started_at GLOB
                 '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z')),
        CONSTRAINT runs_ended_at_iso8601
          CHECK (ended_at IS NULL OR (length(ended_at) = 24 AND ended_at GLOB
                 '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z')),
        CONSTRAINT runs_snapshot_id_is_hex64
          CHECK (snapshot_id IS NULL
                 OR (length(snapshot_id) = 64 AND snapshot_id NOT GLOB '*[^0-9a-f]*')),
        CONSTRAINT runs_files_new_not_negative
          CHECK (files_new >= 0),
        CONSTRAINT runs_files_changed_not_negative
          CHECK (files_changed >= 0),
        CONSTRAINT runs_files_unmodified_not_negative
          CHECK (files_unmodified >= 0),
        CONSTRAINT runs_bytes_processed_not_negative
          CHECK (bytes_processed >= 0),
        CONSTRAINT runs_bytes_added_not_negative
          CHECK (bytes_added >= 0),
        CONSTRAINT runs_error_count_not_negative
          CHECK (error_count >= 0),
        CONSTRAINT runs_acknowledged_is_boolean
          CHECK (acknowledged IN (0, 1))
      ) STRICT;


      INSERT INTO runs_new SELECT * FROM runs;
      DROP TABLE runs;
      ALTER TABLE runs_new RENAME TO runs;
      CREATE INDEX runs_job_queued_at ON runs (job_id, queued_at);
      CREATE INDEX runs_status ON runs (status);
      CREATE INDEX runs_job_scheduled_for ON runs (job_id, scheduled_for);

      CREATE TABLE restore_tests (
        id                         INTEGER PRIMARY KEY,
        job_id                     INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
        job_name                   TEXT,
        run_id                     INTEGER REFERENCES runs (id) ON DELETE SET NULL,
        repository_location        TEXT NOT NULL,
        repository_id              TEXT NOT NULL,
        snapshot_id                TEXT NOT NULL,
        snapshot_time              TEXT NOT NULL,
        "trigger"                  TEXT NOT NULL,
        scope                      TEXT NOT NULL,
        seed                       INTEGER NOT NULL,
        sample                     TEXT NOT NULL,
        files_planned              INTEGER NOT NULL,
        bytes_planned              INTEGER NOT NULL,
        files_restored             INTEGER NOT NULL,
        bytes_restored             INTEGER NOT NULL,
        files_verified             INTEGER NOT NULL,
        files_compared_with_source INTEGER NOT NULL,
        mismatches                 TEXT NOT NULL DEFAULT '[]',
        not_restored               TEXT NOT NULL DEFAULT '[]',
        started_at                 TEXT NOT NULL,
        ended_at                   TEXT NOT NULL,
        duration_ms                INTEGER NOT NULL,
        estimated_full_restore_ms  INTEGER NOT NULL,
        target_rto_minutes         INTEGER,
        rto_met                    INTEGER,
        passed                     INTEGER NOT NULL,
        failures                   TEXT NOT NULL DEFAULT '[]',
        operator                   TEXT,
        note                       TEXT,
        signed_off_at              TEXT,
        app_version                TEXT NOT NULL,
        sandbox_path               TEXT NOT NULL,
        sandbox_kept               INTEGER NOT NULL,
        CONSTRAINT restore_tests_job_named
          CHECK (job_id IS NULL OR job_name IS NOT NULL),
        CONSTRAINT restore_tests_trigger_known
          CHECK ("trigger" IN ('manual', 'schedule', 'catch-up', 'cli')),
        CONSTRAINT restore_tests_repository_id_is_hex64
          CHECK (length(repository_id) = 64 AND repository_id NOT GLOB '*[^0-9a-f]*'),
        CONSTRAINT restore_tests_snapshot_id_is_hex64
          CHECK (length(snapshot_id) = 64 AND snapshot_id NOT GLOB '*[^0-9a-f]*'),
        CONSTRAINT restore_tests_scope_is_object
          CHECK (json_valid(scope) AND json_type(scope) = 'object' AND json_extract(scope, '$.kind') IN ('sample', 'percent', 'paths', 'full')),
        CONSTRAINT restore_tests_sample_is_list
          CHECK (json_valid(sample) AND json_type(sample) = 'array'),
        CONSTRAINT restore_tests_mismatches_is_list
          CHECK (json_valid(mismatches) AND json_type(mismatches) = 'array'),
        CONSTRAINT restore_tests_not_restored_is_list
          CHECK (json_valid(not_restored) AND json_type(not_restored) = 'array'),
        CONSTRAINT restore_tests_failures_is_list
          CHECK (json_valid(failures) AND json_type(failures) = 'array'),
        CONSTRAINT restore_tests_counts_not_negative
          CHECK (files_planned >= 0 AND bytes_planned >= 0 AND files_restored >= 0 AND bytes_restored >= 0
                 AND files_verified >= 0 AND files_compared_with_source >= 0 AND duration_ms >= 0 AND estimated_full_restore_ms >= 0),
        CONSTRAINT restore_tests_target_rto_positive
          CHECK (target_rto_minutes IS NULL OR target_rto_minutes > 0),
        CONSTRAINT restore_tests_rto_met_is_boolean
          CHECK (rto_met IS NULL OR rto_met IN (0, 1)),
        CONSTRAINT restore_tests_rto_met_needs_target
          CHECK (rto_met IS NULL OR target_rto_minutes IS NOT NULL),
        CONSTRAINT restore_tests_passed_is_boolean
          CHECK (passed IN (0, 1)),
        CONSTRAINT restore_tests_passed_means_clean
          CHECK (passed = 0 OR (CASE WHEN json_valid(mismatches) AND json_valid(not_restored)
                                     THEN json_array_length(mismatches) = 0 AND json_array_length(not_restored) = 0 ELSE 0 END)),
        CONSTRAINT restore_tests_sandbox_kept_is_boolean
          CHECK (sandbox_kept IN (0, 1)),
        CONSTRAINT restore_tests_sign_off_complete
          CHECK ((operator IS NULL) = (signed_off_at IS NULL)),
        CONSTRAINT restore_tests_operator_not_blank
          CHECK (operator IS NULL OR length(trim(operator)) > 0),
        CONSTRAINT restore_tests_snapshot_time_iso8601
          CHECK (length(snapshot_time) = 24 AND snapshot_time GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
        CONSTRAINT restore_tests_started_at_iso8601
          CHECK (length(started_at) = 24 AND started_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
        CONSTRAINT restore_tests_ended_at_iso8601
          CHECK (length(ended_at) = 24 AND ended_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
        CONSTRAINT restore_tests_signed_off_at_iso8601
          CHECK (signed_off_at IS NULL OR (length(signed_off_at) = 24 AND signed_off_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'))
      ) STRICT;

      CREATE INDEX restore_tests_job_ended_at ON restore_tests (job_id, ended_at);
      CREATE INDEX restore_tests_ended_at ON restore_tests (ended_at);
      CREATE INDEX restore_tests_run_id ON restore_tests (run_id);
    `);
  },
};
