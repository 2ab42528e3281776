import { encodeRawName, hasRawBytes } from '../../shared/repo/raw-names.js';

/**
 * The path to hand node:fs for a path that may hold bytes that are not UTF-8
 * (escaped as lone surrogates, see shared/repo/raw-names.ts): its raw bytes
 * when it does (node:fs would write U+FFFD for them and miss the file), the
 * string itself otherwise.
 */
export function fsPath(p: string): string | Buffer {
  return hasRawBytes(p) ? Buffer.from(encodeRawName(p)) : p;
}

/** Names read from node:fs as bytes, decoded so that none is lost (see `fsPath`). */
export { decodeRawName } from '../../shared/repo/raw-names.js';
