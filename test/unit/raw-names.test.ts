/** Names that are not UTF-8 survive decoding, sorting, quoting and encoding byte for byte. */
import { describe, expect, it } from 'vitest';
import { goQuoteInner, goUnquoteInner } from '../../shared/repo/goquote.js';
import { decodeRawName, encodeRawName, hasRawBytes } from '../../shared/repo/raw-names.js';
import { compareUtf8, decodeTree, encodeTree } from '../../shared/repo/tree.js';

const bytes = (...b: number[]) => Uint8Array.from(b);
const ascii = (s: string) => [...Buffer.from(s, 'latin1')];

describe('raw names', () => {
  it('decodes UTF-8 as text and every other byte as its own escape, as Go reads them one invalid byte at a time', () => {
    expect(decodeRawName(Buffer.from('café 😀', 'utf8'))).toBe('café 😀');
    expect(decodeRawName(bytes(...ascii('caf'), 0xe9))).toBe('caf\udce9'); // Latin-1 é
    // A cut-off sequence (E2 82 then 'a'), an overlong form (C0 AF), an encoded surrogate (ED A0 80), above U+10FFFF (F4 90 80 80), a stray continuation byte.
    expect(decodeRawName(bytes(0xe2, 0x82, 0x61))).toBe('\udce2\udc82a');
    expect(decodeRawName(bytes(0xc0, 0xaf))).toBe('\udcc0\udcaf');
    expect(decodeRawName(bytes(0xed, 0xa0, 0x80))).toBe('\udced\udca0\udc80');
    expect(decodeRawName(bytes(0xf4, 0x90, 0x80, 0x80))).toBe('\udcf4\udc90\udc80\udc80');
    expect(decodeRawName(bytes(0x80, 0xc3, 0xa9))).toBe('\udc80é');
    // U+FEFF at the start is part of the name, not a byte-order mark to drop.
    expect(decodeRawName(bytes(0xef, 0xbb, 0xbf, 0x61))).toBe('\ufeffa');
    expect(decodeRawName(bytes(0xef, 0xbb, 0xbf, 0x61, 0xff))).toBe('\ufeffa\udcff');
    expect(goUnquoteInner(goQuoteInner('\ufeffa'))).toBe('\ufeffa');
  });

  it('encodes back to the very bytes, and tells escaped bytes from halves of a character', () => {
    const samples = [bytes(0xff), bytes(...ascii('a'), 0xfe, ...ascii('b')), bytes(0xe2, 0x82, 0x61), Buffer.from('😀x', 'utf8'), bytes(0xf0, 0x9f, 0x98, 0x80, 0x80)];
    for (const b of samples) expect([...encodeRawName(decodeRawName(b))]).toEqual([...b]);
    expect(hasRawBytes('😀')).toBe(false); // U+1F600 is the pair D83D DE00: not an escape
    expect(hasRawBytes('\ud83d\udc80')).toBe(false); // 💀 ends in DC80: part of a pair
    expect(hasRawBytes('a\udc80')).toBe(true);
    expect([...encodeRawName('\ud83d\udc80')]).toEqual([...Buffer.from('💀', 'utf8')]);
  });

  it('keeps two names that differ only in such bytes apart, and quotes them as restic does', () => {
    const a = decodeRawName(bytes(...ascii('bad'), 0xff, ...ascii('.txt')));
    const b = decodeRawName(bytes(...ascii('bad'), 0xfe, ...ascii('.txt')));
    expect(a).not.toBe(b);
    expect(goQuoteInner(a)).toBe('bad\\xff.txt');
    expect(goUnquoteInner(goQuoteInner(a))).toBe(a);
  });

  it("sorts by the names' bytes, as Go's sort.Strings does", () => {
    const names = [bytes(0x80), bytes(0xc3, 0xa9), bytes(0xff), bytes(0x7a), bytes(0xef, 0xbf, 0xbd), bytes(0xf0, 0x9f, 0x98, 0x80), bytes(0xc2, 0x80), bytes(0xe9)];
    const byBytes = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))).map(decodeRawName);
    expect(names.map(decodeRawName).sort(compareUtf8)).toEqual(byBytes);
  });

  it('writes a link target that is not UTF-8 as restic 0.17 does (lossy text with Go\'s \\ufffd escapes, then the bytes) and reads it back', () => {
    const node = { name: 'to-cafe', type: 'symlink' as const, mode: 0o777 | 0x8000000, mtime: 0n, atime: 0n, ctime: 0n, uid: 0, gid: 0, linktarget: 'caf\udce9 <x>', content: null };
    const text = encodeTree({ nodes: [node] });
    expect(text).toContain('"linktarget":"caf\\ufffd \\u003cx\\u003e","linktarget_raw":"' + Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0x3c, 0x78, 0x3e]).toString('base64') + '"');
    const back = decodeTree(text);
    expect(back.nodes[0]!.linktarget).toBe('caf\udce9 <x>');
    expect(back.foreignFields).toBeUndefined();
    expect(encodeTree(back)).toBe(text);
  });
});
