/**
 * restic stores tree node names quoted the way Go's strconv.Quote quotes them
 * (without the surrounding quotes), and reads them back with strconv.Unquote.
 * Names with quotes, backslashes or control characters must therefore be
 * escaped Go-style before JSON encoding, or restic cannot read our trees.
 * A byte that is not UTF-8 (carried as a lone surrogate, see raw-names.ts)
 * is quoted `\xNN`, as Go quotes it.
 */
import { decodeRawName } from './raw-names.js';

// Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and ASCII space.
const PRINTABLE = /[\p{L}\p{M}\p{N}\p{P}\p{S} ]/u;

const SHORT_ESCAPES: Record<number, string> = { 7: '\\a', 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v' };

/** Go's strconv.Quote(name) minus the surrounding double quotes. */
export function goQuoteInner(name: string): string {
  let out = '';
  for (const ch of name) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (cp >= 0xdc80 && cp <= 0xdcff) out += '\\x' + (cp - 0xdc00).toString(16);
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\ufffd'; // no byte behind it: Go cannot hold it either
    else if (PRINTABLE.test(ch)) out += ch;
    else if (SHORT_ESCAPES[cp]) out += SHORT_ESCAPES[cp];
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0');
    else out += '\\U' + cp.toString(16).padStart(8, '0');
  }
  return out;
}

/**
 * Go's strconv.Unquote('"' + inner + '"'). Byte escapes (\xNN, octal) that do
 * not form valid UTF-8 decode to escaped bytes (lone surrogates, see
 * raw-names.ts), so the file gets its name back byte for byte. Throws on a
 * malformed escape.
 */
export function goUnquoteInner(inner: string): string {
  if (!inner.includes('\\')) return inner;
  const bytes: number[] = [];
  const enc = new TextEncoder();
  const pushText = (s: string) => { for (const b of enc.encode(s)) bytes.push(b); };
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i]!;
    if (c !== '\\') {
      const cp = inner.codePointAt(i)!;
      const s = String.fromCodePoint(cp);
      pushText(s);
      i += s.length - 1;
      continue;
    }
    const e = inner[++i];
    const hex = (n: number) => {
      const h = inner.slice(i + 1, i + 1 + n);
      if (h.length !== n || !/^[0-9a-fA-F]+$/.test(h)) throw new Error(`malformed escape in name ${JSON.stringify(inner)}`);
      i += n;
      return parseInt(h, 16);
    };
    switch (e) {
      case 'a': bytes.push(7); break;
      case 'b': bytes.push(8); break;
      case 'f': bytes.push(12); break;
      case 'n': bytes.push(10); break;
      case 'r': bytes.push(13); break;
      case 't': bytes.push(9); break;
      case 'v': bytes.push(11); break;
      case '\\': case '"': bytes.push(e.charCodeAt(0)); break;
      case 'x': bytes.push(hex(2)); break;
      case 'u': pushText(String.fromCodePoint(hex(4))); break;
      case 'U': pushText(String.fromCodePoint(hex(8))); break;
      default:
        if (e !== undefined && /[0-7]/.test(e)) {
          const o = inner.slice(i, i + 3);
          if (!/^[0-7]{3}$/.test(o) || parseInt(o, 8) > 0o377) throw new Error(`malformed octal escape in name ${JSON.stringify(inner)}`);
          bytes.push(parseInt(o, 8));
          i += 2;
        } else {
          throw new Error(`malformed escape in name ${JSON.stringify(inner)}`);
        }
    }
  }
  return decodeRawName(new Uint8Array(bytes));
}
