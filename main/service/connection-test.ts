import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConnectionTest, ConnectionTestHostKey, ConnectionTestInput } from '../../shared/api.js';
import { validateCredentials, type CredentialField, type RepositoryCredentials } from '../../shared/credentials.js';
import { requireObject, requireString, ValidationError } from '../../shared/validation.js';
import { RepositoryNotFoundError } from '../engine/errors.js';
import { Repository } from '../engine/repository.js';
import { HostKeyChangedError, hostPortKey, KnownHosts } from '../engine/targets/known-hosts.js';
import { openTarget, type OpenTargetOptions } from '../engine/targets/open-target.js';
import { RetryingTarget } from '../engine/targets/retry.js';
import { parseSftpLocation, SftpError } from '../engine/targets/sftp.js';
import { isNotFound, type StorageTarget } from '../engine/targets/target.js';
import { WrongPasswordError } from '../../workers/crypto/crypto.js';
import { validateSecretRef, type SecretResolver } from './secrets.js';

/** What a connection test needs from the service. */
export interface ConnectionTestDeps {
  /** Resolves `passwordRef` and `credentialRefs` (keychain, encrypted file, `file:`, `env:`). */
  secrets: SecretResolver;
  /** The host's options for a location (SFTP host-key pin file, S3 defaults); may throw when it has none. */
  targetOptions?: (location: string) => OpenTargetOptions;
}

/** Where each credential came from: typed in (`credentials`) or a reference (`credentialRefs`). */
type Origins = Partial<Record<CredentialField, 'credentials' | 'credentialRefs'>>;

/**
 * Tries a location with the password and target credentials an admin is
 * entering, as `addRepository` would use them, but stores nothing: no secret
 * goes to a store, and an SFTP server's host key is checked against a scratch
 * copy of the pin file, so a new key is shown (to be confirmed) rather than
 * pinned. Malformed input throws a ValidationError naming the field; a failed
 * connection resolves with `ok: false` and the field at fault. No secret is
 * ever part of the result or of an error.
 */
export async function testConnection(deps: ConnectionTestDeps, raw: ConnectionTestInput): Promise<ConnectionTest> {
  const input = requireObject(raw, 'input');
  const location = requireString(input.location, 'location').trim();
  if (!location) throw new ValidationError('location', 'must not be empty');
  if (input.password !== undefined && input.passwordRef !== undefined) throw new ValidationError('password', 'give the password or a reference to it, not both');
  const given = validateCredentials(location, input.credentials, input.credentialRefs);
  const password = input.password !== undefined ? requireString(input.password, 'password') : input.passwordRef !== undefined ? await resolve(deps, validateSecretRef(input.passwordRef), 'passwordRef') : undefined;

  const values: RepositoryCredentials = { ...given.secrets };
  const origins: Origins = {};
  for (const f of Object.keys(given.secrets) as CredentialField[]) origins[f] = 'credentials';
  for (const [f, ref] of Object.entries(given.refs) as [CredentialField, string][]) {
    values[f] = await resolve(deps, validateSecretRef(ref, `credentialRefs.${f}`), `credentialRefs.${f}`);
    origins[f] = 'credentialRefs';
  }
  const fieldOf = (f: CredentialField) => `${origins[f] ?? 'credentials'}.${f}`;
  const secretsGiven = [password, ...Object.values(values)].filter((v): v is string => v !== undefined);
  // Belt and braces: no message leaves with a secret in it, whatever a library put there.
  const scrub = (text: string) => secretsGiven.reduce((t, s) => (s.length >= 4 ? t.split(s).join('…') : t), text);

  const isSftp = /^sftp:/i.test(location);
  const isS3 = /^s3:/i.test(location);
  let base: OpenTargetOptions = {};
  try {
    base = deps.targetOptions?.(location) ?? {};
  } catch (e) {
    // The host's defaults may insist on keys from its environment; keys given here make them unnecessary.
    if (!(isS3 && values.s3AccessKeyId !== undefined)) throw new ValidationError(isS3 ? 'credentials.s3AccessKeyId' : 'location', scrub((e as Error).message));
  }
  const options = withCredentials(location, base, values);
  if (isS3 && !options.s3) throw new ValidationError('credentials.s3AccessKeyId', 'S3 needs the access key ID and the secret access key');
  if (isSftp && !options.sftp) throw new ValidationError('location', 'this service has no host-key pin file configured for SFTP repositories');

  // SFTP: a scratch copy of the pin file, so that the test sees pins but adds none.
  let scratch: string | undefined;
  let hostPort: string | undefined;
  let newKey: { keyType: string; fingerprint: string } | undefined;
  if (isSftp && options.sftp) {
    try {
      const spec = parseSftpLocation(location);
      hostPort = hostPortKey(spec.host, spec.port);
    } catch (e) {
      throw new ValidationError('location', (e as Error).message.replace(/^repository: /, ''));
    }
    scratch = await fsp.mkdtemp(path.join(os.tmpdir(), 'lifeboat-connection-test-'));
    const copy = path.join(scratch, 'known_hosts.json');
    await fsp.copyFile(options.sftp.knownHostsFile, copy).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw new ValidationError('location', `the host-key pin file ${options.sftp!.knownHostsFile} cannot be read (${e.code ?? e.message})`);
    });
    options.sftp = { ...options.sftp, knownHostsFile: copy, onNewHostKey: (fingerprint, info) => void (newKey = { keyType: info.keyType, fingerprint }) };
  }

  let target: StorageTarget | undefined;
  try {
    try {
      target = new RetryingTarget(openTarget(location, { ...options, connections: 1 }), { attempts: 2 });
    } catch (e) {
      return failed(scrub((e as Error).message.replace(/^repository: /, '')), openFailureField((e as Error).message, fieldOf));
    }
    const hostKey = async (): Promise<ConnectionTestHostKey | undefined> => {
      if (!hostPort || !scratch) return undefined;
      if (newKey) return { hostPort, ...newKey, status: 'new' };
      const pinned = await new KnownHosts(path.join(scratch, 'known_hosts.json')).get(hostPort).catch(() => undefined);
      return pinned ? { hostPort, keyType: pinned.keyType, fingerprint: pinned.fingerprint, status: 'pinned' } : undefined;
    };
    const withKey = async (r: ConnectionTest): Promise<ConnectionTest> => {
      const k = await hostKey();
      if (!k) return r;
      const note = k.status === 'new' ? `; new host key ${k.keyType} ${k.fingerprint}: check it with the server's admin, it is pinned when the repository is added` : `; host key ${k.fingerprint} matches the pinned one`;
      return { ...r, message: r.message + note, hostKey: k };
    };
    try {
      if (password !== undefined) {
        const repo = await Repository.open(target, password);
        await repo.close();
        return await withKey({ ok: true, initialized: true, message: `repository ${repo.config.id.slice(0, 8)} opened with this password` });
      }
      await target.stat({ type: 'config', name: '' });
      return await withKey({ ok: true, initialized: true, message: 'reachable; a repository is already there (its password is needed next)' });
    } catch (caught) {
      let e = caught;
      if (e instanceof RepositoryNotFoundError || isNotFound(e)) return await withKey({ ok: true, initialized: false, message: 'reachable; no repository there yet: one will be created' });
      const changed = findCause(e, HostKeyChangedError);
      if (changed) {
        return {
          ...failed(scrub(changed.message).replace(changed.file, 'the pin file'), 'location'),
          hostKey: { hostPort: changed.hostPort, keyType: changed.presented.keyType, fingerprint: changed.presented.fingerprint, status: 'changed', pinned: { ...changed.pinned } },
        };
      }
      if (e instanceof WrongPasswordError) return failed('the repository password does not open this repository', input.passwordRef !== undefined ? 'passwordRef' : 'password');
      if (isS3 && !s3Code(e)) {
        // A refused HEAD (stat) carries no S3 error code, only 403: a listing's answer names the reason.
        const why = await target.list('keys').then(() => undefined, (x: unknown) => x);
        if (s3Code(why)) e = why;
      }
      const r = failed(scrub((e as Error).message), connectFailureField(e, values, fieldOf));
      // Authentication fails after the key exchange: the (new) host key is worth showing then too.
      return r.field !== null ? withKey(r) : r;
    }
  } finally {
    await target?.close().catch(() => {});
    if (scratch) await fsp.rm(scratch, { recursive: true, force: true }).catch(() => {});
  }
}

function failed(message: string, field: string | null): ConnectionTest {
  return { ok: false, initialized: false, message: field ? `${field}: ${message}` : message, field };
}

async function resolve(deps: ConnectionTestDeps, ref: string, field: string): Promise<string> {
  try {
    return await deps.secrets.resolve(ref);
  } catch (e) {
    // The resolver's message names the reference, never a secret.
    throw new ValidationError(field, (e as Error).message.replace(/^password /, ''));
  }
}

/** The host's options with the given credentials over them (the secrets live only in the result); also how the service opens a repository's target. */
export function withCredentials(location: string, base: OpenTargetOptions, c: RepositoryCredentials): OpenTargetOptions {
  let o = { ...base };
  if (/^s3:/i.test(location) && c.s3AccessKeyId !== undefined && c.s3SecretAccessKey !== undefined) {
    const { sessionToken: _ignored, ...rest } = o.s3 ?? { accessKeyId: '', secretAccessKey: '' };
    o = { ...o, s3: { ...rest, accessKeyId: c.s3AccessKeyId, secretAccessKey: c.s3SecretAccessKey } };
  }
  if (/^sftp:/i.test(location) && o.sftp) {
    const sftp = { ...o.sftp };
    if (c.sftpPassword !== undefined) sftp.password = c.sftpPassword;
    if (c.sftpPrivateKey !== undefined) {
      sftp.privateKey = c.sftpPrivateKey;
      delete sftp.privateKeyFile;
    }
    if (c.sftpKeyPassphrase !== undefined) sftp.passphrase = c.sftpKeyPassphrase;
    o = { ...o, sftp };
  }
  return o;
}

function findCause<T extends Error>(e: unknown, type: new (...args: never[]) => T): T | undefined {
  for (let c = e, depth = 0; c && depth < 8; c = (c as { cause?: unknown }).cause, depth++) if (c instanceof type) return c;
  return undefined;
}

/** The S3 error code that points at a key (`InvalidAccessKeyId`, `SignatureDoesNotMatch`) anywhere in the cause chain, or ''. */
function s3Code(e: unknown): string {
  for (let c = e, depth = 0; c && depth < 8; c = (c as { cause?: unknown }).cause, depth++) {
    const x = c as { name?: unknown; Code?: unknown; code?: unknown };
    for (const v of [x.Code, x.code, x.name]) if (typeof v === 'string' && /^(InvalidAccessKeyId|SignatureDoesNotMatch)$/.test(v)) return v;
  }
  return '';
}

/** Which input a target's constructor refused (its messages say what is missing). */
function openFailureField(message: string, fieldOf: (f: CredentialField) => string): string {
  if (/S3 access key ID|S3 credentials/i.test(message)) return fieldOf('s3AccessKeyId');
  if (/S3 secret access key/i.test(message)) return fieldOf('s3SecretAccessKey');
  return 'location';
}

/** Which credential a failed connection points at; null when it is the server or the network. */
function connectFailureField(e: unknown, c: RepositoryCredentials, fieldOf: (f: CredentialField) => string): string | null {
  const code = s3Code(e);
  if (code === 'InvalidAccessKeyId') return fieldOf('s3AccessKeyId');
  if (code === 'SignatureDoesNotMatch') return fieldOf('s3SecretAccessKey');
  const sftp = findCause(e, SftpError);
  if (!sftp) return null;
  const m = sftp.message;
  if (/wrong passphrase|no passphrase was given/.test(m)) return fieldOf('sftpKeyPassphrase');
  if (/not a supported private key|is a public key/.test(m)) return fieldOf('sftpPrivateKey');
  if (sftp.code === 'EAUTH' || /no SSH authentication configured/.test(m)) {
    // The method the admin gave is the one to look at; a key is tried before a password.
    if (c.sftpPassword !== undefined && c.sftpPrivateKey === undefined) return fieldOf('sftpPassword');
    if (c.sftpPrivateKey !== undefined) return fieldOf('sftpPrivateKey');
    return fieldOf('sftpPassword');
  }
  if (sftp.code === 'EHOSTKEY') return 'location';
  return null;
}
