import BetterSqlite3, { type Database } from 'better-sqlite3';
import { DatabaseFromTheFutureError } from './errors.js';
import { assertValidMigrationList, migrate, readSchemaVersion } from './migrate.js';
import { MIGRATIONS, type Migration } from './migrations/index.js';
import { JobStore } from './jobs.js';
import { RepositoryCredentialStore } from './credentials.js';
import { RepositoryStore } from './repositories.js';
import { RestoreTestStore } from './restore-tests.js';
import { RunStore } from './runs.js';
import { SettingsStore } from './settings.js';

/** Options for {@link openDatabase}. */
export interface OpenDatabaseOptions {
  /** Schema history to migrate with; defaults to {@link MIGRATIONS}. For tests. */
  readonly migrations?: readonly Migration[];
  /** How long a statement waits for another connection's lock, in ms. Default 5000. */
  readonly busyTimeoutMs?: number;
  /** Clock for the accessors' timestamps; defaults to the system clock. For tests. */
  readonly now?: () => Date;
}

/** An open, migrated Lifeboat database. */
export interface LifeboatDatabase {
  /** The path it was opened with. */
  readonly path: string;
  /**
   * The single writer connection. Prefer the typed stores; use this for
   * queries they don't cover. Do not change its pragmas.
   */
  readonly connection: Database;
  /** Schema version after migration (`PRAGMA user_version`). */
  readonly schemaVersion: number;
  /** The `repositories` table. */
  readonly repositories: RepositoryStore;
  /** The `settings` table. */
  readonly settings: SettingsStore;
  /**
   * The `jobs` table (schema 2). Created on first use, so a database opened
   * with an older `migrations` list (tests) works until this is touched.
   */
  readonly jobs: JobStore;
  /** The `runs` table (schema 2); created on first use like {@link jobs}. */
  readonly runs: RunStore;
  /** The `restore_tests` table (schema 3): restore-test evidence; created on first use like {@link jobs}. */
  readonly restoreTests: RestoreTestStore;
  /** The `repository_credentials` table (secret references only); created on first use like {@link jobs}. */
  readonly credentials: RepositoryCredentialStore;
  /**
   * Run `fn` in one transaction (committed when it returns, rolled back if
   * it throws) and return its result. Nested calls become savepoints. `fn`
   * must be synchronous.
   */
  transaction<T>(fn: () => T): T;
  /** Close the connection (after `PRAGMA optimize`). Calling it again does nothing. */
  close(): void;
}

const DEFAULT_BUSY_TIMEOUT_MS = 5_000;

/**
 * Open (creating if needed) the Lifeboat database at `path` and bring its
 * schema up to date.
 *
 * Contract:
 * - Opens ONE read-write connection (better-sqlite3, synchronous). The
 *   process should hold a single `LifeboatDatabase` per file and do all its
 *   writes through it; other connections (e.g. read-only ones in workers)
 *   are possible thanks to WAL.
 * - Before anything is written, the schema version (`PRAGMA user_version`)
 *   is read: if it is greater than the newest known migration the
 *   connection is closed and {@link DatabaseFromTheFutureError} is thrown,
 *   leaving the file byte-for-byte untouched.
 * - Then sets `journal_mode = WAL` (throws if the file system cannot do WAL;
 *   `:memory:` databases stay in memory mode), `synchronous = NORMAL`,
 *   `foreign_keys = ON`, and a busy timeout (`busyTimeoutMs`, default 5 s).
 * - Runs every pending migration, each in its own transaction together with
 *   its `PRAGMA user_version = N` (see {@link migrate}); a failing migration
 *   is rolled back and surfaces as a `MigrationError` naming it.
 * - On any failure the connection is closed before the error propagates.
 * - The parent directory must exist. Opening an up-to-date database again
 *   changes nothing (idempotent).
 *
 * @throws {DatabaseFromTheFutureError} the file was written by a newer Lifeboat
 * @throws {MigrationError} a migration failed
 */
export function openDatabase(path: string, options: OpenDatabaseOptions = {}): LifeboatDatabase {
  if (path === '') throw new TypeError('openDatabase: path must not be empty (use ":memory:" for an in-memory database)');
  const migrations = options.migrations ?? MIGRATIONS;
  assertValidMigrationList(migrations);
  const newest = migrations.at(-1)?.version ?? 0;

  const connection = new BetterSqlite3(path, { timeout: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS });
  try {
    // Only reads until we know this build understands the file.
    const found = readSchemaVersion(connection);
    if (found > newest) throw new DatabaseFromTheFutureError(path, found, newest);

    const journalMode = connection.pragma('journal_mode = WAL', { simple: true });
    if (journalMode !== 'wal' && !connection.memory) {
      throw new Error(`could not switch the database at ${path} to WAL mode (journal_mode is ${String(journalMode)})`);
    }
    connection.pragma('synchronous = NORMAL');
    connection.pragma('foreign_keys = ON');

    const { to } = migrate(connection, { migrations, path });
    const now = options.now;
    let jobs: JobStore | undefined;
    let runs: RunStore | undefined;
    let restoreTests: RestoreTestStore | undefined;
    let credentials: RepositoryCredentialStore | undefined;
    return {
      path,
      connection,
      schemaVersion: to,
      repositories: new RepositoryStore(connection, now),
      settings: new SettingsStore(connection, now),
      get jobs(): JobStore {
        return (jobs ??= new JobStore(connection, now));
      },
      get runs(): RunStore {
        return (runs ??= new RunStore(connection, now));
      },
      get restoreTests(): RestoreTestStore {
        return (restoreTests ??= new RestoreTestStore(connection));
      },
      get credentials(): RepositoryCredentialStore {
        return (credentials ??= new RepositoryCredentialStore(connection));
      },
      transaction: <T>(fn: () => T): T => connection.transaction(fn)(),
      close() {
        if (!connection.open) return;
        try {
          connection.pragma('optimize');
        } catch {
          // Best effort: optimisation must never stop the database from closing.
        }
        connection.close();
      },
    };
  } catch (error) {
    connection.close();
    throw error;
  }
}
