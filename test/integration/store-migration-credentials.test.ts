// The repository-credentials migration (found by name: it is renumbered when
// branches merge): its table, STRICT, its constraints, and the cascade.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate, readSchemaVersion } from '../../main/store/migrate.js';
import { MIGRATIONS } from '../../main/store/migrations/index.js';

const T = '2025-01-02T03:04:05.678Z';
const index = MIGRATIONS.findIndex((m) => m.name === 'repository-credentials');
let dir: string;
let db: Database;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lifeboat-store-creds-'));
  db = new BetterSqlite3(join(dir, 'lifeboat.db'));
  db.pragma('foreign_keys = ON');
});
afterEach(() => {
  if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('migration repository-credentials', () => {
  let repositoryId: number;
  beforeEach(() => {
    expect(index).toBeGreaterThan(0);
    migrate(db, { migrations: MIGRATIONS.slice(0, index) });
    repositoryId = Number(db.prepare(`INSERT INTO repositories (name, location, created_at, updated_at) VALUES ('offsite', 'sftp:u@h:/srv', ?, ?)`).run(T, T).lastInsertRowid);
    const version = MIGRATIONS[index]!.version;
    expect(migrate(db, { migrations: MIGRATIONS.slice(0, index + 1) })).toEqual({ from: version - 1, to: version, applied: [`${String(version).padStart(3, '0')}-repository-credentials`] });
    expect(readSchemaVersion(db)).toBe(version);
  });
  const insert = (field: string, ref: string, repo = repositoryId) => db.prepare('INSERT INTO repository_credentials (repository_id, field, secret_ref) VALUES (?, ?, ?)').run(repo, field, ref);

  it('adds a STRICT table of references keyed by repository and field, keeping existing rows', () => {
    const cols = (db.pragma('table_info(repository_credentials)') as { name: string; type: string; notnull: number; pk: number }[]).map(({ name, type, notnull, pk }) => ({ name, type, notnull, pk }));
    expect(cols).toEqual([
      { name: 'repository_id', type: 'INTEGER', notnull: 1, pk: 1 },
      { name: 'field', type: 'TEXT', notnull: 1, pk: 2 },
      { name: 'secret_ref', type: 'TEXT', notnull: 1, pk: 0 },
    ]);
    expect((db.pragma('table_list(repository_credentials)') as { schema: string; strict: number }[]).find((r) => r.schema === 'main')?.strict).toBe(1);
    expect(db.prepare('SELECT name FROM repositories').all()).toEqual([{ name: 'offsite' }]);
    insert('sftpPassword', 'keychain:repository:offsite:sftpPassword');
    insert('sftpPrivateKey', 'file:/etc/lifeboat/id_ed25519');
    expect(db.prepare('SELECT field, secret_ref FROM repository_credentials ORDER BY field').all()).toEqual([
      { field: 'sftpPassword', secret_ref: 'keychain:repository:offsite:sftpPassword' },
      { field: 'sftpPrivateKey', secret_ref: 'file:/etc/lifeboat/id_ed25519' },
    ]);
  });

  it('refuses unknown fields, values that are not references, duplicates and unknown repositories', () => {
    expect(() => insert('apiToken', 'keychain:x')).toThrow(/repository_credentials_known_field/);
    expect(() => insert('sftpPassword', 'hunter2')).toThrow(/repository_credentials_ref_is_reference/);
    expect(() => insert('sftpPassword', 'file:relative/path')).toThrow(/repository_credentials_ref_is_reference/);
    expect(() => insert('sftpPassword', 'keychain:')).toThrow(/repository_credentials_ref_is_reference/);
    insert('sftpPassword', 'env:SFTP_PASSWORD');
    expect(() => insert('sftpPassword', 'env:OTHER')).toThrow(/UNIQUE|PRIMARY KEY/);
    expect(() => insert('sftpPassword', 'env:X', repositoryId + 1)).toThrow(/FOREIGN KEY/);
  });

  it('deletes a repository\'s references with it', () => {
    insert('s3AccessKeyId', 'vault:repository:offsite:s3AccessKeyId');
    db.prepare('DELETE FROM repositories WHERE id = ?').run(repositoryId);
    expect(db.prepare('SELECT COUNT(*) AS n FROM repository_credentials').get()).toEqual({ n: 0 });
  });
});
