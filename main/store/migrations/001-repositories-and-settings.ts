import type { Migration } from './types.js';

/**
 * Schema 1: the repositories Lifeboat backs up to, and a key/value settings
 * table.
 *
 * `repositories.password_ref` points at the secret in the OS keychain; the
 * repository password itself is never stored in this database.
 * Timestamps are UTC ISO-8601 strings as produced by `Date#toISOString()`.
 */
export const migration: Migration = {
  version: 1,
  name: 'repositories-and-settings',
  up(db) {
    db.exec(`
      CREATE TABLE repositories (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        location      TEXT NOT NULL,
        password_ref  TEXT,
        repository_id TEXT,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL,
        CONSTRAINT repositories_name_not_blank
          CHECK (length(trim(name)) > 0),
        CONSTRAINT repositories_name_trimmed
          CHECK (name = trim(name)),
        CONSTRAINT repositories_name_max_length
          CHECK (length(name) <= 200),
        CONSTRAINT repositories_location_not_blank
          CHECK (length(trim(location)) > 0),
        CONSTRAINT repositories_password_ref_not_blank
          CHECK (password_ref IS NULL OR length(trim(password_ref)) > 0),
        CONSTRAINT repositories_repository_id_is_hex64
          CHECK (repository_id IS NULL
                 OR (length(repository_id) = 64 AND repository_id NOT GLOB '*[^0-9a-f]*')),
        CONSTRAINT repositories_created_at_iso8601
          CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]*Z'),
        CONSTRAINT repositories_updated_at_iso8601
          CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]*Z')
      ) STRICT;

      CREATE TABLE settings (
        key        TEXT NOT NULL PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        CONSTRAINT settings_key_not_blank
          CHECK (length(trim(key)) > 0),
        CONSTRAINT settings_key_trimmed
          CHECK (key = trim(key)),
        CONSTRAINT settings_value_is_json
          CHECK (json_valid(value)),
        CONSTRAINT settings_updated_at_iso8601
          CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]*Z')
      ) STRICT;
    `);
  },
};
