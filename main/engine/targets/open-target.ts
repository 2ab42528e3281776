import { LocalTarget } from './local.js';
import { S3Target, type S3Options } from './s3.js';
import { SftpTarget, type SftpOptions } from './sftp.js';
import type { StorageTarget } from './target.js';

export interface OpenTargetOptions {
  /** Parallel operations (upload workers); each target's own default when absent. */
  connections?: number;
  /**
   * How to reach an `sftp:` location: credentials (passed in by the caller from
   * the keychain, never logged) and Lifeboat's host-key pin file. Required for
   * SFTP locations.
   */
  sftp?: Omit<SftpOptions, 'connections'>;
  /** How to reach an `s3:` location: keys (from the caller's secret store or environment), region, path style. */
  s3?: Omit<S3Options, 'connections'>;
}

/**
 * Opens the target a repository location names, in restic's URL forms:
 * a local folder or mounted NAS share (`/path`, `local:/path`), SFTP
 * (`sftp:user@host:/path`, `sftp://user@host:port//path`) or S3-compatible
 * storage (`s3:https://host/bucket/prefix`). The other restic backends are
 * recognised and refused with a clear message.
 */
export function openTarget(location: string, opts: OpenTargetOptions = {}): StorageTarget {
  if (!location.trim()) throw new Error('repository: location is empty');
  const m = /^([a-z0-9]+):(.*)$/is.exec(location);
  if (m && m[1]!.length > 1) {
    const scheme = m[1]!.toLowerCase();
    if (scheme === 'local') return new LocalTarget(m[2]!, opts.connections);
    if (scheme === 'sftp') {
      if (!opts.sftp) {
        throw new Error('repository: sftp locations need SFTP options (a known-hosts file for the host key, and a password, private key or ssh-agent)');
      }
      return new SftpTarget(location, { ...opts.sftp, ...(opts.connections === undefined ? {} : { connections: opts.connections }) });
    }
    if (scheme === 's3') {
      if (!opts.s3) throw new Error('repository: s3 locations need S3 credentials (access key ID and secret access key)');
      return new S3Target(location, { ...opts.s3, ...(opts.connections === undefined ? {} : { connections: opts.connections }) });
    }
    if (['rest', 'b2', 'azure', 'gs', 'rclone', 'swift'].includes(scheme)) {
      throw new Error(`repository: ${scheme} repositories are not supported yet by this version; use a local folder, a mounted share, sftp: or s3:`);
    }
  }
  return new LocalTarget(location, opts.connections);
}
