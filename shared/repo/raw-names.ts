/**
 * File names that are not valid UTF-8 (a share still holding names in a
 * legacy 8-bit encoding, say), carried through JavaScript strings without
 * loss, the way Python's "surrogateescape" does it: each byte that is not
 * part of a well-formed UTF-8 sequence (always one of 0x80..0xFF) becomes the
 * lone low surrogate U+DC80..U+DCFF, which well-formed UTF-8 never decodes to.
 * So two names that differ only in such bytes stay two names, a tree records
 * the name as restic does (Go-quoted, the byte as `\xNN`: see goquote.ts),
 * and the file system gets the original bytes back (`encodeRawName`).
 */

// ignoreBOM: a name may start with U+FEFF, and it is part of the name.
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();
/** A low surrogate U+DC80..U+DCFF that is not the second half of a pair: an escaped byte. */
const ESCAPED_BYTE = /(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/;

/** Whether a name holds bytes that are not UTF-8 (escaped as lone surrogates). */
export function hasRawBytes(name: string): boolean {
  return ESCAPED_BYTE.test(name);
}

/**
 * Decodes a name's bytes: well-formed UTF-8 as text, every other byte as the
 * lone surrogate U+DC00 + byte. A byte sequence cut short or otherwise
 * malformed is escaped byte by byte, as Go's `utf8.DecodeRune` reads it
 * (one invalid byte at a time), so the escapes match what restic writes.
 */
export function decodeRawName(bytes: Uint8Array): string {
  try {
    return strict.decode(bytes);
  } catch {
    // Not UTF-8: decoded by hand below.
  }
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const n = wellFormedLength(bytes, i);
    if (n === 0) {
      out += String.fromCharCode(0xdc00 + bytes[i]!);
      i++;
    } else {
      out += strict.decode(bytes.subarray(i, i + n));
      i += n;
    }
  }
  return out;
}

/** The bytes of a name as `decodeRawName` read them: UTF-8, with each escaped byte put back as it was. */
export function encodeRawName(name: string): Uint8Array {
  if (!hasRawBytes(name)) return encoder.encode(name);
  const parts: Uint8Array[] = [];
  let from = 0;
  for (let i = 0; i < name.length; i++) {
    const u = name.charCodeAt(i);
    if (u < 0xdc80 || u > 0xdcff) continue;
    const prev = i > 0 ? name.charCodeAt(i - 1) : 0;
    if (prev >= 0xd800 && prev <= 0xdbff) continue; // the second half of a pair
    parts.push(encoder.encode(name.slice(from, i)), Uint8Array.of(u - 0xdc00));
    from = i + 1;
  }
  parts.push(encoder.encode(name.slice(from)));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Length of the well-formed UTF-8 sequence starting at `i` (Unicode's table
 * 3-7: no overlong forms, no surrogates, nothing above U+10FFFF), or 0.
 */
export function wellFormedLength(b: Uint8Array, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  // Continuation bytes after the lead byte, and the range of the first one (narrower after E0, ED, F0, F4).
  const [more, lo, hi] =
    c >= 0xc2 && c <= 0xdf ? [1, 0x80, 0xbf]
    : c === 0xe0 ? [2, 0xa0, 0xbf]
    : c === 0xed ? [2, 0x80, 0x9f]
    : c >= 0xe1 && c <= 0xef ? [2, 0x80, 0xbf]
    : c === 0xf0 ? [3, 0x90, 0xbf]
    : c === 0xf4 ? [3, 0x80, 0x8f]
    : c >= 0xf1 && c <= 0xf3 ? [3, 0x80, 0xbf]
    : [0, 0, 0];
  if (more === 0) return 0;
  if (i + more >= b.length) return 0;
  if (b[i + 1]! < lo || b[i + 1]! > hi) return 0;
  for (let k = 2; k <= more; k++) if (b[i + k]! < 0x80 || b[i + k]! > 0xbf) return 0;
  return more + 1;
}
