import type { Database, Statement } from 'better-sqlite3';

import type { CredentialField } from '../../shared/credentials.js';

/** Secret references by field (never the secrets themselves). */
export type CredentialRefs = Partial<Record<CredentialField, string>>;

/**
 * Typed access to `repository_credentials`: for each repository, which
 * credential fields it has and the reference to each secret. The schema's
 * CHECK constraints refuse unknown fields and values that are not references.
 */
export class RepositoryCredentialStore {
  private readonly listStatement: Statement<[number], { field: CredentialField; secret_ref: string }>;
  private readonly insertStatement: Statement<[number, string, string]>;
  private readonly clearStatement: Statement<[number]>;

  constructor(private readonly db: Database) {
    this.listStatement = db.prepare('SELECT field, secret_ref FROM repository_credentials WHERE repository_id = ? ORDER BY field');
    this.insertStatement = db.prepare('INSERT INTO repository_credentials (repository_id, field, secret_ref) VALUES (?, ?, ?)');
    this.clearStatement = db.prepare('DELETE FROM repository_credentials WHERE repository_id = ?');
  }

  /** The references stored for a repository (empty when none). */
  get(repositoryId: number): CredentialRefs {
    const refs: CredentialRefs = {};
    for (const r of this.listStatement.all(repositoryId)) refs[r.field] = r.secret_ref;
    return refs;
  }

  /** Replaces a repository's references with `refs`, in one transaction. */
  set(repositoryId: number, refs: CredentialRefs): void {
    this.db.transaction(() => {
      this.clearStatement.run(repositoryId);
      for (const [field, ref] of Object.entries(refs)) if (ref !== undefined) this.insertStatement.run(repositoryId, field, ref);
    })();
  }
}
