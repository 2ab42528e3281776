import { futimesSync, lutimesSync } from 'node:fs';
import { loadNative } from '../crypto/native.js';
import { systemErrorMessage } from './errno.js';

/**
 * Sets a restored file's access and modification times to the nanosecond, as
 * restic restores them (node:fs takes seconds as a double, which loses the
 * nanoseconds and can land a microsecond off). On a path, a symlink's own
 * times are set, never its target's. Where the native addon lacks it, node:fs
 * sets them to the microsecond.
 */
export function setTimesSync(target: string | Buffer | number, atimeNs: bigint, mtimeNs: bigint): void {
  const setTimes = loadNative().setTimes;
  if (setTimes) {
    try {
      setTimes(target, atimeNs, mtimeNs);
    } catch (e) {
      throw new Error(systemErrorMessage(e, 'utimensat', typeof target === 'number' ? `descriptor ${target}` : target.toString()));
    }
    return;
  }
  const secs = (ns: bigint) => Number(ns / 1000n) / 1e6;
  if (typeof target === 'number') futimesSync(target, secs(atimeNs), secs(mtimeNs));
  else lutimesSync(target, secs(atimeNs), secs(mtimeNs));
}
