import { ValidationError } from './validation.js';

/** The credentials a repository's target may need, by field. */
export const CREDENTIAL_FIELDS = ['s3AccessKeyId', 's3SecretAccessKey', 'sftpPassword', 'sftpPrivateKey', 'sftpKeyPassphrase'] as const;
export type CredentialField = (typeof CREDENTIAL_FIELDS)[number];

/**
 * Credentials for a repository's target: S3 keys for `s3:` locations; a
 * password, a private key (OpenSSH/PEM text) and its passphrase for `sftp:`
 * ones. As secrets (`credentials`, each put in the secret store) or as
 * references to where each is kept (`credentialRefs`, e.g. `file:/path`).
 */
export type RepositoryCredentials = Partial<Record<CredentialField, string>>;

const FOR_SCHEME: Record<CredentialField, 's3' | 'sftp'> = {
  s3AccessKeyId: 's3',
  s3SecretAccessKey: 's3',
  sftpPassword: 'sftp',
  sftpPrivateKey: 'sftp',
  sftpKeyPassphrase: 'sftp',
};

/** Longest credential accepted (an RSA private key in PEM is a few KiB). */
const MAX_CREDENTIAL_LENGTH = 16 * 1024;

function fieldsOf(value: unknown, field: string): RepositoryCredentials {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ValidationError(field, 'must be an object of credential fields');
  const out: RepositoryCredentials = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (!(CREDENTIAL_FIELDS as readonly string[]).includes(k)) throw new ValidationError(`${field}.${k}`, `is not a credential field (known: ${CREDENTIAL_FIELDS.join(', ')})`);
    if (v === undefined) continue;
    // The value is a secret: the message never repeats it.
    if (typeof v !== 'string' || v.length === 0) throw new ValidationError(`${field}.${k}`, 'must be a non-empty string');
    if (v.length > MAX_CREDENTIAL_LENGTH) throw new ValidationError(`${field}.${k}`, `must be at most ${MAX_CREDENTIAL_LENGTH} characters`);
    out[k as CredentialField] = v;
  }
  return out;
}

/**
 * Checks credentials given as secrets and as references against a
 * repository location (pure; references' own form is checked where they are
 * resolved). Errors name the field (`credentials.s3SecretAccessKey`) and
 * never contain a secret.
 */
export function validateCredentials(location: string, secrets: unknown, refs: unknown): { secrets: RepositoryCredentials; refs: RepositoryCredentials } {
  const s = fieldsOf(secrets, 'credentials');
  const r = fieldsOf(refs, 'credentialRefs');
  const scheme = /^(s3|sftp):/i.exec(location.trim())?.[1]?.toLowerCase();
  for (const [group, given] of [['credentials', s], ['credentialRefs', r]] as const) {
    for (const k of Object.keys(given) as CredentialField[]) {
      if (FOR_SCHEME[k] !== scheme) throw new ValidationError(`${group}.${k}`, `is only for ${FOR_SCHEME[k]}: locations`);
      if (group === 'credentialRefs' && s[k] !== undefined) throw new ValidationError(`credentialRefs.${k}`, 'give the secret or a reference to it, not both');
    }
  }
  const has = (k: CredentialField) => s[k] !== undefined || r[k] !== undefined;
  if (has('s3AccessKeyId') !== has('s3SecretAccessKey')) {
    throw new ValidationError(has('s3AccessKeyId') ? 'credentials.s3SecretAccessKey' : 'credentials.s3AccessKeyId', 'S3 needs both the access key ID and the secret access key');
  }
  return { secrets: s, refs: r };
}
