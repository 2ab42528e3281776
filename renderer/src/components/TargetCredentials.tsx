import type { ConnectionTest } from '../../../shared/api.js';
import type { CredentialField, RepositoryCredentials } from '../../../shared/credentials.js';

/** The remote kind a location names (its credentials differ), or null for a folder. */
export function targetKind(location: string): 's3' | 'sftp' | null {
  const m = /^(s3|sftp):/i.exec(location.trim());
  return m ? (m[1]!.toLowerCase() as 's3' | 'sftp') : null;
}

const FIELDS: Record<'s3' | 'sftp', { field: CredentialField; label: string; secret: boolean; multiline?: boolean; placeholder?: string }[]> = {
  s3: [
    { field: 's3AccessKeyId', label: 'Access key ID', secret: false },
    { field: 's3SecretAccessKey', label: 'Secret access key', secret: true },
  ],
  sftp: [
    { field: 'sftpPassword', label: 'SSH password', secret: true },
    { field: 'sftpPrivateKey', label: 'Private key', secret: true, multiline: true, placeholder: '-----BEGIN OPENSSH PRIVATE KEY-----' },
    { field: 'sftpKeyPassphrase', label: 'Key passphrase', secret: true },
  ],
};

/** The credentials typed for a location's kind, empty fields left out (what testConnection and addRepository take). */
export function credentialsFor(location: string, typed: RepositoryCredentials): RepositoryCredentials {
  const kind = targetKind(location);
  if (!kind) return {};
  return Object.fromEntries(FIELDS[kind].flatMap(({ field }) => (typed[field] ? [[field, typed[field]]] : [])));
}

/**
 * Label and input pairs (for a `.form-grid`) for the credentials an `s3:` or
 * `sftp:` location needs; nothing for a folder. Secrets are typed into
 * password inputs (the private key into a textarea) and only ever sent to the
 * service. `invalidField` (e.g. `credentials.sftpPassword`) marks the input an
 * error names.
 */
export function TargetCredentialsFields(props: { idPrefix: string; location: string; value: RepositoryCredentials; onChange: (v: RepositoryCredentials) => void; invalidField?: string | null }) {
  const kind = targetKind(props.location);
  if (!kind) return null;
  const set = (field: CredentialField, v: string) => props.onChange({ ...props.value, [field]: v });
  return (
    <>
      <p>{kind === 's3' ? 'The bucket’s access key (kept in the system keychain, never in the database).' : 'How to log in: a password, or a private key (and its passphrase). They are kept in the system keychain, never in the database.'}</p>
      {FIELDS[kind].map(({ field, label, secret, multiline, placeholder }) => {
        const id = `${props.idPrefix}-${field}`;
        const invalid = props.invalidField === `credentials.${field}` || props.invalidField === `credentialRefs.${field}`;
        const common = { id, value: props.value[field] ?? '', 'aria-invalid': invalid || undefined, autoComplete: 'off', spellCheck: false };
        return [
          <label key={`${id}-l`} htmlFor={id}>
            {label}
          </label>,
          multiline ? (
            <textarea key={id} {...common} rows={4} cols={60} placeholder={placeholder} onChange={(e) => set(field, e.target.value)} />
          ) : (
            <input key={id} {...common} type={secret ? 'password' : 'text'} onChange={(e) => set(field, e.target.value)} />
          ),
        ];
      })}
    </>
  );
}

/**
 * A connection test's outcome: the message, and for SFTP the server's host
 * key. A key met for the first time must be confirmed (`confirmed`,
 * `onConfirm`) before it is pinned; a changed key is shown next to the pinned one.
 */
export function ConnectionTestResult(props: { test: ConnectionTest; confirmed: boolean; onConfirm: (v: boolean) => void; idPrefix: string }) {
  const { test } = props;
  const key = test.hostKey;
  return (
    <div role="status" className="connection-test">
      <p className={test.ok ? 'ok' : 'error'}>
        {test.ok ? 'Connection OK: ' : 'Connection failed: '}
        {test.message}
      </p>
      {key?.status === 'new' && test.ok && (
        <div className="host-key">
          <p>
            First connection to {key.hostPort}. Its host key is <code>{key.keyType}</code> <code className="fingerprint">{key.fingerprint}</code>. Compare it with what the server’s admin
            reads from <code>ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub</code>; Lifeboat pins it and refuses any other key later.
          </p>
          <label>
            <input id={`${props.idPrefix}-confirm-key`} type="checkbox" checked={props.confirmed} onChange={(e) => props.onConfirm(e.target.checked)} /> This is the server’s fingerprint
          </label>
        </div>
      )}
      {key?.status === 'changed' && (
        <p className="error">
          The server presented <code className="fingerprint">{key.fingerprint}</code>, not the pinned <code>{key.pinned?.fingerprint}</code>.
        </p>
      )}
    </div>
  );
}
