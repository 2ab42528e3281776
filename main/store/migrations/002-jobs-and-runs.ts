import type { Migration } from './types.js';

/**
 * Schema 2: backup jobs and the record of their runs.
 *
 * `jobs.config` holds the whole `JobConfig` as a JSON object. `name`,
 * `repository_id` and `enabled` repeat three of its fields as columns so they
 * can be constrained (unique name, foreign key) and queried; a CHECK keeps
 * each column equal to its field in `config`. A repository that jobs still
 * back up to cannot be deleted (`ON DELETE RESTRICT`).
 *
 * `runs` records every run of a job, including skipped ones; deleting a job
 * deletes its runs (`ON DELETE CASCADE`). A manual run answers no scheduled
 * slot, every other run answers exactly one, so `scheduled_for` is NULL
 * exactly when `trigger = 'manual'`. Run timestamps must have the exact form
 * of `Date#toISOString()` (`YYYY-MM-DDTHH:MM:SS.sssZ`), so that comparing
 * them as text (`max(scheduled_for)`, `ORDER BY`) compares them as times.
 * `log` is the run's text log; the accessor caps its size.
 */
export const migration: Migration = {
  version: 2,
  name: 'jobs-and-runs',
  up(db) {
    db.exec(`
      CREATE TABLE jobs (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE RESTRICT,
        config        TEXT NOT NULL,
        enabled       INTEGER NOT NULL,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL,
        CONSTRAINT jobs_name_not_blank
          CHECK (length(trim(name)) > 0),
        CONSTRAINT jobs_name_trimmed
          CHECK (name = trim(name)),
        CONSTRAINT jobs_name_max_length
          CHECK (length(name) <= 200),
        CONSTRAINT jobs_enabled_is_boolean
          CHECK (enabled IN (0, 1)),
        CONSTRAINT jobs_config_is_json
          CHECK (json_valid(config)),
        CONSTRAINT jobs_config_is_object
          CHECK (CASE WHEN json_valid(config) THEN json_type(config) = 'object' ELSE 0 END),
        CONSTRAINT jobs_config_matches_columns
          CHECK (CASE WHEN json_valid(config) AND json_type(config) = 'object'
                      THEN json_extract(config, '$.name') IS name
                           AND json_type(config, '$.repositoryId') = 'integer'
                           AND json_extract(config, '$.repositoryId') IS repository_id
                           AND json_type(config, '$.enabled') IN ('true', 'false')
                           AND json_extract(config, '$.enabled') IS enabled
                      ELSE 0 END),
        CONSTRAINT jobs_created_at_iso8601
          CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]*Z'),
        CONSTRAINT jobs_updated_at_iso8601
          CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]*Z')
      ) STRICT;

      CREATE INDEX jobs_repository_id ON jobs (repository_id);

      CREATE TABLE runs (
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
          CHECK (kind IN ('backup', 'prune', 'check')),
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

      CREATE INDEX runs_job_queued_at ON runs (job_id, queued_at);
      CREATE INDEX runs_status ON runs (status);
      CREATE INDEX runs_job_scheduled_for ON runs (job_id, scheduled_for);
    `);
  },
};
