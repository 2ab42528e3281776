import type { Migration } from './types.js';

/**
 * Schema 4: the credentials a repository's target needs (S3 keys, an SFTP
 * password, private key or key passphrase), one row per field, each only a
 * reference to where the secret is kept (`keychain:…`, `vault:…`, `file:…`,
 * `env:…`); the secrets themselves are never stored in this database.
 * Deleting a repository deletes its rows.

 */
export const migration: Migration = {
  version: 4,
  name: 'repository-credentials',
  up(db) {
    db.exec(`
      CREATE TABLE repository_credentials (
        repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
        field         TEXT NOT NULL,
        secret_ref    TEXT NOT NULL,
        PRIMARY KEY (repository_id, field),
        CONSTRAINT repository_credentials_known_field
          CHECK (field IN ('s3AccessKeyId', 's3SecretAccessKey', 'sftpPassword', 'sftpPrivateKey', 'sftpKeyPassphrase')),
        CONSTRAINT repository_credentials_ref_is_reference
          CHECK (secret_ref GLOB 'keychain:?*' OR secret_ref GLOB 'vault:?*' OR secret_ref GLOB 'file:/*' OR secret_ref GLOB 'env:?*')
      ) STRICT;
    `);
  },
};
