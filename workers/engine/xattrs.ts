import type { ExtendedAttribute } from '../../shared/repo/types.js';
import { loadNative } from '../crypto/native.js';
import { systemErrorMessage } from './errno.js';

/**
 * Extended attributes on the way in (the native scan's byte layout, see
 * native/src/scan.h, into tree form) and out (restored onto a file).
 */

/** Decodes a native attribute list: per attribute its name, a NUL, the value's length (uint32 LE) and the value. */
export function decodeXattrList(list: Uint8Array): ExtendedAttribute[] {
  const buf = Buffer.from(list.buffer, list.byteOffset, list.byteLength);
  const out: ExtendedAttribute[] = [];
  for (let at = 0; at < buf.length; ) {
    const end = buf.indexOf(0, at);
    if (end < 0 || end + 5 > buf.length) throw new Error('malformed extended-attribute list from the native scan');
    const name = buf.toString('utf8', at, end);
    const length = buf.readUInt32LE(end + 1);
    const from = end + 5;
    if (from + length > buf.length) throw new Error('malformed extended-attribute list from the native scan');
    out.push({ name, value: buf.toString('base64', from, from + length) });
    at = from + length;
  }
  return out;
}

/**
 * Sets a node's extended attributes on an open descriptor or a path (a symlink
 * is never followed). Each attribute is tried; the messages of those that
 * failed are returned (a file system without them, or a `security.`/`trusted.`
 * one set by a user who may not) for the caller to report.
 */
export function restoreXattrs(target: string | Buffer | number, attrs: readonly ExtendedAttribute[] | undefined): string[] {
  if (!attrs?.length) return [];
  const setXattr = loadNative().setXattr;
  if (!setXattr) return [`extended attributes not restored: this build cannot set them (${attrs.map((a) => a.name).join(', ')})`];
  const failed: string[] = [];
  for (const a of attrs) {
    try {
      setXattr(target, a.name, a.value === null ? new Uint8Array(0) : Buffer.from(a.value, 'base64'));
    } catch (e) {
      failed.push(`extended attribute ${systemErrorMessage(e, 'setxattr', a.name)}`);
    }
  }
  return failed;
}
