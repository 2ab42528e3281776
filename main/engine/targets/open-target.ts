import { LocalTarget } from './local.js';
import type { StorageTarget } from './target.js';

/**
 * Opens the target a repository location names, in restic's URL forms.
 * Today: a local folder or mounted NAS share (`/path`, `local:/path`).
 * SFTP and S3 locations are recognised and refused with a clear message
 * until their targets exist.
 */
export function openTarget(location: string, opts: { connections?: number } = {}): StorageTarget {
  if (!location.trim()) throw new Error('repository: location is empty');
  const m = /^([a-z0-9]+):(.*)$/i.exec(location);
  if (m && m[1]!.length > 1) {
    const scheme = m[1]!.toLowerCase();
    if (scheme === 'local') return new LocalTarget(m[2]!, opts.connections);
    if (['sftp', 's3', 'rest', 'b2', 'azure', 'gs', 'rclone', 'swift'].includes(scheme)) {
      throw new Error(`repository: ${scheme} repositories are not supported yet by this version; use a local folder or mounted share`);
    }
  }
  return new LocalTarget(location, opts.connections);
}
