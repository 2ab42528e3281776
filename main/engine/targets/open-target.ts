import { LocalTarget } from './local.js';
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
}

/**
 * Opens the target a repository location names, in restic's URL forms:
 * a local folder or mounted NAS share (`/path`, `local:/path`), or SFTP
 * (`sftp:user@host:/path`, `sftp://user@host:port//path`). S3 and the other
 * restic backends are recognised and refused with a clear message until
 * their targets exist.
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
    if (['s3', 'rest', 'b2', 'azure', 'gs', 'rclone', 'swift'].includes(scheme)) {
      throw new Error(`repository: ${scheme} repositories are not supported yet by this version; use a local folder, a mounted share or sftp:`);
    }
  }
  return new LocalTarget(location, opts.connections);
}
