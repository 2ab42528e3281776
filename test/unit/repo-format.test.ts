/**
 * The restic repository format codecs in shared/repo: Go timestamps, Go
 * string quoting, Go file modes, tree JSON and pack headers. Expected values
 * are what Go / restic produce (restic 0.14 output is used verbatim below).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatGoTime, localOffsetMinutes, nanosToMillis, parseGoTime } from '../../shared/repo/gotime.js';
import { goQuoteInner, goUnquoteInner } from '../../shared/repo/goquote.js';
import { GoMode, goModeFromPosix, posixPermissionsFromGo } from '../../shared/repo/gomode.js';
import { decodeTree, encodeTree, isSafeNodeName } from '../../shared/repo/tree.js';
import {
  bytesToHex,
  decodePackHeader,
  encodePackHeader,
  hexToBytes,
  isId,
  packHeaderPlainSize,
  type PackedBlob,
} from '../../shared/repo/pack.js';
import type { Tree, TreeNode } from '../../shared/repo/types.js';

const NS = 1_000_000_000n;
/** Nanoseconds of a UTC wall-clock time (years >= 100 only: Date.UTC maps 0..99 to 19xx). */
const utcNs = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0, frac = 0n): bigint =>
  BigInt(Date.UTC(y, mo - 1, d, h, mi, s)) * 1_000_000n + frac;
const sha256Hex = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');
const randomId = (): string => randomBytes(32).toString('hex');

/** Runs `fn` with the process time zone set to `tz`, restoring it afterwards. */
function withTZ<T>(tz: string, fn: () => T): T {
  const saved = process.env.TZ;
  process.env.TZ = tz;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
}

// ---------------------------------------------------------------------------
describe('gotime: Go time.Time JSON (RFC 3339 with nanoseconds)', () => {
  const base = utcNs(2024, 1, 2, 3, 4, 5);

  it('formats UTC with Go RFC3339Nano trailing-zero trimming', () => {
    expect(formatGoTime(base, 0)).toBe('2024-01-02T03:04:05Z');
    expect(formatGoTime(base + 100_000_000n, 0)).toBe('2024-01-02T03:04:05.1Z');
    expect(formatGoTime(base + 120_000_000n, 0)).toBe('2024-01-02T03:04:05.12Z');
    expect(formatGoTime(base + 123_456_789n, 0)).toBe('2024-01-02T03:04:05.123456789Z');
    expect(formatGoTime(base + 1n, 0)).toBe('2024-01-02T03:04:05.000000001Z');
    expect(formatGoTime(base + 10n, 0)).toBe('2024-01-02T03:04:05.00000001Z');
    expect(formatGoTime(base + 999_000_000n, 0)).toBe('2024-01-02T03:04:05.999Z');
    expect(formatGoTime(0n, 0)).toBe('1970-01-01T00:00:00Z');
  });

  it('formats numeric offsets, shifting the wall clock', () => {
    expect(formatGoTime(base + 100_000_000n, 60)).toBe('2024-01-02T04:04:05.1+01:00');
    expect(formatGoTime(base + 100_000_000n, -330)).toBe('2024-01-01T21:34:05.1-05:30');
    expect(formatGoTime(base, 345)).toBe('2024-01-02T08:49:05+05:45');
    expect(formatGoTime(base, -720)).toBe('2024-01-01T15:04:05-12:00');
    expect(formatGoTime(base, 840)).toBe('2024-01-02T17:04:05+14:00');
  });

  it('formats times before 1970 (floor, not truncation, for the fraction)', () => {
    expect(formatGoTime(-1n, 0)).toBe('1969-12-31T23:59:59.999999999Z');
    expect(formatGoTime(-1_500_000_000n, 0)).toBe('1969-12-31T23:59:58.5Z');
    expect(formatGoTime(-NS, 0)).toBe('1969-12-31T23:59:59Z');
    expect(formatGoTime(-86_400n * NS, 0)).toBe('1969-12-31T00:00:00Z');
    expect(formatGoTime(-999_999n, 0)).toBe('1969-12-31T23:59:59.999000001Z');
    expect(formatGoTime(utcNs(1900, 1, 1, 0, 0, 0, 5n), 0)).toBe('1900-01-01T00:00:00.000000005Z');
    expect(formatGoTime(-1n, -300)).toBe('1969-12-31T18:59:59.999999999-05:00');
    // Go's zero time (0001-01-01T00:00:00Z), which Go writes for unset time.Time fields.
    expect(formatGoTime(-62_135_596_800n * NS, 0)).toBe('0001-01-01T00:00:00Z');
  });

  it('parses Z and numeric offsets to the same instant', () => {
    const t = base + 100_000_000n;
    expect(parseGoTime('2024-01-02T03:04:05.1Z')).toBe(t);
    expect(parseGoTime('2024-01-02T04:04:05.1+01:00')).toBe(t);
    expect(parseGoTime('2024-01-01T21:34:05.1-05:30')).toBe(t);
    expect(parseGoTime('2024-01-02T03:04:05.100000000Z')).toBe(t);
    expect(parseGoTime('2024-01-02T03:04:05+00:00')).toBe(base);
    // restic 0.14 output, verbatim
    expect(parseGoTime('2026-11-23T16:07:34.685633189Z')).toBe(utcNs(2026, 11, 23, 16, 7, 34, 685_633_189n));
    expect(parseGoTime('1969-12-31T23:59:59.999999999Z')).toBe(-1n);
    expect(parseGoTime('1969-12-31T18:59:59.999999999-05:00')).toBe(-1n);
  });

  it('round-trips nanosecond times in many zones, before and after 1970', () => {
    const times = [
      0n,
      1n,
      -1n,
      base,
      base + 123_456_789n,
      base + 1n,
      -1_500_000_000n,
      utcNs(1900, 3, 1, 12, 0, 0, 999_999_999n),
      utcNs(1969, 7, 20, 20, 17, 40, 1n),
      utcNs(2038, 1, 19, 3, 14, 8, 500n),
      utcNs(9999, 12, 31, 23, 59, 59, 999_999_999n) - 14n * 3600n * NS,
    ];
    for (let i = 0; i < 200; i++) {
      const r = BigInt(Math.floor(Math.random() * 2 ** 52)) * 1000n + BigInt(Math.floor(Math.random() * 1000));
      times.push(Math.random() < 0.3 ? -r : r);
    }
    const offsets = [0, 60, -60, 330, -330, 345, -570, 840, -720];
    for (const t of times) {
      for (const off of offsets) {
        const s = formatGoTime(t, off);
        expect(parseGoTime(s), `${t} at ${off}: ${s}`).toBe(t);
      }
    }
  });

  it('uses the local zone offset at the given instant by default', () => {
    const summer = utcNs(2024, 7, 1, 12);
    const winter = utcNs(2024, 1, 15, 12);
    withTZ('America/New_York', () => {
      expect(localOffsetMinutes(summer)).toBe(-240);
      expect(localOffsetMinutes(winter)).toBe(-300);
      expect(formatGoTime(summer)).toBe('2024-07-01T08:00:00-04:00');
      expect(formatGoTime(winter + 5n)).toBe('2024-01-15T07:00:00.000000005-05:00');
    });
    withTZ('Asia/Kolkata', () => {
      expect(formatGoTime(winter)).toBe('2024-01-15T17:30:00+05:30');
    });
    withTZ('UTC', () => {
      expect(formatGoTime(winter)).toBe('2024-01-15T12:00:00Z');
    });
  });

  it('rejects malformed text with an error naming the text', () => {
    const bad = [
      '',
      'yesterday',
      '2024-01-02 03:04:05Z',
      '2024-01-02T03:04:05',
      '2024-01-02T03:04:05.Z',
      '2024-01-02T03:04:05.1234567891Z',
      '2024-01-02T03:04:05+0100',
      '2024-1-02T03:04:05Z',
      ' 2024-01-02T03:04:05Z',
      '2024-01-02T03:04:05Z\n',
    ];
    for (const text of bad) {
      expect(() => parseGoTime(text), text).toThrow(`invalid timestamp ${JSON.stringify(text)}`);
    }
  });

  // BUG: parseGoTime uses Date.UTC, which maps years 0..99 to 1900..1999, so
  // Go's zero time "0001-01-01T00:00:00Z" parses as 1901-01-01.
  it('parses years before 100, e.g. Go zero time 0001-01-01T00:00:00Z (format/parse round trip)', () => {
    const goZero = -62_135_596_800n * NS;
    expect(formatGoTime(goZero, 0)).toBe('0001-01-01T00:00:00Z');
    expect(parseGoTime('0001-01-01T00:00:00Z')).toBe(goZero);
  });

  // BUG: out-of-range fields are silently normalised by Date.UTC instead of
  // rejected as Go's time.Parse does ("month out of range", "day out of range").
  it('rejects out-of-range fields such as month 13 (Go: "month out of range")', () => {
    expect(() => parseGoTime('2024-13-01T00:00:00Z')).toThrow('2024-13-01T00:00:00Z');
  });

  it('converts to milliseconds', () => {
    expect(nanosToMillis(base + 123_456_789n)).toBe(Date.UTC(2024, 0, 2, 3, 4, 5, 123));
  });
});

// ---------------------------------------------------------------------------
describe("goquote: Go's strconv.Quote / Unquote without the outer quotes", () => {
  /** [name, Go's strconv.Quote(name) minus the surrounding quotes] */
  const cases: [string, string][] = [
    ['plain-ASCII_name.txt', 'plain-ASCII_name.txt'],
    ['with space', 'with space'],
    ['say "hi"', 'say \\"hi\\"'],
    ['back\\slash', 'back\\\\slash'],
    ['we"ird\\name', 'we\\"ird\\\\name'],
    ['new\nline', 'new\\nline'],
    ['tab\there', 'tab\\there'],
    ['\r\x07\x08\x0c\x0b', '\\r\\a\\b\\f\\v'],
    ['\x00', '\\x00'],
    ['a\x01b', 'a\\x01b'],
    ['\x1b[0m', '\\x1b[0m'],
    ['del\x7f', 'del\\x7f'],
    ['nb\u00a0sp', 'nb\\u00a0sp'], // U+00A0 is Zs: not printable in Go
    ['zero\u200bwidth', 'zero\\u200bwidth'], // Cf
    ['\u0085', '\\u0085'], // C1 control
    ['\u2028', '\\u2028'],
    ['\u3000', '\\u3000'], // ideographic space, Zs
    ['\ue000', '\\ue000'], // private use
    ['\u{e0001}', '\\U000e0001'], // language tag, Cf, outside the BMP
    ['\u{10ffff}', '\\U0010ffff'], // noncharacter
    ['emoji 😀🎉', 'emoji 😀🎉'],
    ['café ñ Ω 日本語 Привет', 'café ñ Ω 日本語 Привет'],
    ['e\u0301', 'e\u0301'], // combining mark (Mn) is printable
    ['👨\u200d👩', '👨\\u200d👩'], // ZWJ is Cf
    ["it's <a&b>", "it's <a&b>"],
    ['', ''],
    // Bytes that are not UTF-8 (escaped as lone surrogates, raw-names.ts) quote as Go quotes an invalid byte.
    ['caf\udce9 \udcff', 'caf\\xe9 \\xff'],
  ];

  it('quotes like strconv.Quote', () => {
    for (const [name, quoted] of cases) expect(goQuoteInner(name), JSON.stringify(name)).toBe(quoted);
  });

  it('unquotes its own output back to the name', () => {
    for (const [name, quoted] of cases) expect(goUnquoteInner(quoted), JSON.stringify(quoted)).toBe(name);
  });

  it('handles every escape form strconv.Unquote knows', () => {
    expect(goUnquoteInner('\\101\\102')).toBe('AB');
    expect(goUnquoteInner('\\000')).toBe('\0');
    expect(goUnquoteInner('\\377\\303\\251')).toBe('\udcffé'); // lone byte 0xff is not UTF-8: kept, escaped (raw-names.ts)
    expect(goUnquoteInner('\\U0001F600')).toBe('😀');
    expect(goUnquoteInner('\\U0001f600')).toBe('😀');
    expect(goUnquoteInner('\\u00e9\\u00E9')).toBe('éé');
    expect(goUnquoteInner('\\xc3\\xa9')).toBe('é'); // UTF-8 bytes combine
    expect(goUnquoteInner('\\xf0\\x9f\\x98\\x80')).toBe('😀');
    expect(goUnquoteInner('\\xff')).toBe('\udcff');
    expect(goUnquoteInner('x\\x41y😀\\tz')).toBe('xAy😀\tz');
    expect(goUnquoteInner('\\a\\b\\f\\n\\r\\t\\v\\\\\\"')).toBe('\x07\b\f\n\r\t\v\\"');
  });

  it('round-trips random names from many Unicode ranges', () => {
    const ranges: [number, number][] = [
      [0x00, 0x7f],
      [0x80, 0x24f],
      [0x2000, 0x206f],
      [0x3000, 0x30ff],
      [0xe000, 0xe0ff],
      [0xfff0, 0xffff],
      [0x1f300, 0x1f64f],
      [0xe0000, 0xe007f],
    ];
    for (let n = 0; n < 500; n++) {
      let s = '';
      const len = 1 + Math.floor(Math.random() * 12);
      for (let i = 0; i < len; i++) {
        const [lo, hi] = ranges[Math.floor(Math.random() * ranges.length)]!;
        s += String.fromCodePoint(lo + Math.floor(Math.random() * (hi - lo + 1)));
      }
      const q = goQuoteInner(s);
      // Tokenised left to right, only escapes and printable characters remain:
      // no raw control characters, quotes or stray backslashes.
      const rest = q.replace(/\\(?:["\\abfnrtv]|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})/g, '');
      const stray = [...rest].filter((c) => c.charCodeAt(0) < 0x20 || c === '\x7f' || c === '"' || c === '\\');
      expect(stray, `${JSON.stringify(s)} -> ${q}`).toEqual([]);
      expect(goUnquoteInner(q), JSON.stringify(s)).toBe(s);
    }
  });

  it('throws on malformed escapes', () => {
    const bad = ['\\', 'abc\\', '\\q', '\\x4', '\\xzz', '\\x', '\\u12', '\\u12g4', '\\U0001F60', '\\12', '\\1', '\\9', '\\8'];
    for (const b of bad) expect(() => goUnquoteInner(b), JSON.stringify(b)).toThrow(/malformed/);
  });

  // BUG: strconv.Unquote rejects octal escapes above \377 (ErrSyntax); goUnquoteInner
  // pushes 256+ into a byte array, which truncates, and returns "\ufffd".
  it('throws on an octal escape above \\377, as strconv.Unquote does', () => {
    expect(() => goUnquoteInner('\\400')).toThrow(/malformed/);
  });
});

// ---------------------------------------------------------------------------
describe('gomode: POSIX st_mode <-> Go os.FileMode', () => {
  const S_IFREG = 0o100000;
  const S_IFDIR = 0o040000;
  const S_IFLNK = 0o120000;
  const S_IFIFO = 0o010000;
  const S_IFCHR = 0o020000;
  const S_IFBLK = 0o060000;
  const S_IFSOCK = 0o140000;

  it('matches the values restic stores', () => {
    expect(goModeFromPosix(S_IFREG | 0o644)).toBe(420);
    expect(goModeFromPosix(S_IFDIR | 0o755)).toBe(2147484141);
    expect(2147484141).toBe(2 ** 31 + 0o755);
    expect(goModeFromPosix(S_IFLNK | 0o777)).toBe(134218239);
    expect(goModeFromPosix(S_IFREG | 0o600)).toBe(0o600);
  });

  it('maps setuid, setgid and sticky to Go bits 23, 22, 20', () => {
    expect(goModeFromPosix(S_IFREG | 0o4755)).toBe(2 ** 23 + 0o755);
    expect(goModeFromPosix(S_IFREG | 0o2755)).toBe(2 ** 22 + 0o755);
    expect(goModeFromPosix(S_IFDIR | 0o1777)).toBe(2 ** 31 + 2 ** 20 + 0o777); // /tmp
    expect(goModeFromPosix(S_IFREG | 0o7777)).toBe(2 ** 23 + 2 ** 22 + 2 ** 20 + 0o777);
  });

  it('maps special file types', () => {
    expect(goModeFromPosix(S_IFIFO | 0o644)).toBe(GoMode.NamedPipe + 0o644);
    expect(GoMode.NamedPipe).toBe(2 ** 25);
    expect(goModeFromPosix(S_IFCHR | 0o666)).toBe(2 ** 26 + 2 ** 21 + 0o666);
    expect(goModeFromPosix(S_IFBLK | 0o660)).toBe(2 ** 26 + 0o660);
    expect(goModeFromPosix(S_IFSOCK | 0o755)).toBe(2 ** 24 + 0o755);
  });

  it('agrees with real stat() results', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-gomode-'));
    try {
      const f = path.join(dir, 'f');
      writeFileSync(f, 'x');
      chmodSync(f, 0o644);
      expect(goModeFromPosix(statSync(f).mode)).toBe(420);
      chmodSync(dir, 0o755);
      expect(goModeFromPosix(statSync(dir).mode)).toBe(2147484141);
      const devNull = goModeFromPosix(statSync('/dev/null').mode);
      expect(Math.floor(devNull / GoMode.Device) % 2).toBe(1);
      expect(Math.floor(devNull / GoMode.CharDevice) % 2).toBe(1);
      expect(devNull % 0o1000).toBe(0o666);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('posixPermissionsFromGo inverts permission and special bits for every type', () => {
    expect(posixPermissionsFromGo(420)).toBe(0o644);
    expect(posixPermissionsFromGo(2147484141)).toBe(0o755);
    expect(posixPermissionsFromGo(134218239)).toBe(0o777);
    expect(posixPermissionsFromGo(2 ** 31 + 2 ** 20 + 0o777)).toBe(0o1777);
    for (const type of [S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, S_IFCHR, S_IFBLK, S_IFSOCK]) {
      for (let perm = 0; perm <= 0o7777; perm++) {
        const go = goModeFromPosix(type | perm);
        if (posixPermissionsFromGo(go) !== perm) {
          expect(posixPermissionsFromGo(go), `type ${type.toString(8)} perm ${perm.toString(8)}`).toBe(perm);
        }
      }
    }
  });
});

// ---------------------------------------------------------------------------
describe('tree: restic tree JSON', () => {
  let savedTZ: string | undefined;
  beforeAll(() => {
    // encodeTree writes times in the local zone, like restic; pin it.
    savedTZ = process.env.TZ;
    process.env.TZ = 'UTC';
    expect(new Date(0).getTimezoneOffset()).toBe(0);
  });
  afterAll(() => {
    if (savedTZ === undefined) delete process.env.TZ;
    else process.env.TZ = savedTZ;
  });

  const T1 = parseGoTime('2024-01-02T03:04:05.1Z');
  const T2 = parseGoTime('2024-01-02T03:04:05.123456789Z');
  const T3 = parseGoTime('2024-01-02T03:04:06Z');
  const C1 = '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';
  const C2 = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
  const SUB = '6e869855bc06b0e6ae1156575eeaf3afe5c1a52b3d743f61db8388288d7dc671';

  it('encodes fields in restic struct order, with Go escaping and a trailing newline', () => {
    const tree: Tree = {
      nodes: [
        {
          name: 'file.txt', type: 'file', mode: 420, mtime: T1, atime: T2, ctime: T3, uid: 1000, gid: 100,
          user: 'ann', group: 'users', inode: 42, device_id: 2049, size: 5, links: 1, content: [C1, C2],
        },
        {
          name: 'sub', type: 'dir', mode: 2147484141, mtime: T1, atime: T1, ctime: T1, uid: 0, gid: 0,
          content: null, subtree: SUB, error: 'partial <read> & more',
        },
        {
          name: 'tty', type: 'chardev', mode: 69206454, mtime: T3, atime: T3, ctime: T3, uid: 0, gid: 5,
          user: 'root', group: 'tty', inode: 7, device_id: 5, links: 1, device: 1025, content: null,
        },
        {
          name: 'link', type: 'symlink', mode: 134218239, mtime: T1, atime: T1, ctime: T1, uid: 1, gid: 1,
          linktarget: '../a<b>&c', content: null,
        },
      ],
    };
    const expected =
      '{"nodes":[' +
      '{"name":"file.txt","type":"file","mode":420,"mtime":"2024-01-02T03:04:05.1Z","atime":"2024-01-02T03:04:05.123456789Z",' +
      '"ctime":"2024-01-02T03:04:06Z","uid":1000,"gid":100,"user":"ann","group":"users","inode":42,"device_id":2049,"size":5,' +
      `"links":1,"content":["${C1}","${C2}"]},` +
      '{"name":"sub","type":"dir","mode":2147484141,"mtime":"2024-01-02T03:04:05.1Z","atime":"2024-01-02T03:04:05.1Z",' +
      `"ctime":"2024-01-02T03:04:05.1Z","uid":0,"gid":0,"content":null,"subtree":"${SUB}","error":"partial \\u003cread\\u003e \\u0026 more"},` +
      '{"name":"tty","type":"chardev","mode":69206454,"mtime":"2024-01-02T03:04:06Z","atime":"2024-01-02T03:04:06Z",' +
      '"ctime":"2024-01-02T03:04:06Z","uid":0,"gid":5,"user":"root","group":"tty","inode":7,"device_id":5,"links":1,"device":1025,"content":null},' +
      '{"name":"link","type":"symlink","mode":134218239,"mtime":"2024-01-02T03:04:05.1Z","atime":"2024-01-02T03:04:05.1Z",' +
      '"ctime":"2024-01-02T03:04:05.1Z","uid":1,"gid":1,"linktarget":"../a\\u003cb\\u003e\\u0026c","content":null}' +
      ']}\n';
    expect(encodeTree(tree)).toBe(expected);
  });

  it('leaves omitempty fields out when zero but always writes uid, gid and content', () => {
    const node: TreeNode = { name: 'z', type: 'file', mode: 0, mtime: 0n, atime: 0n, ctime: 0n, uid: 0, gid: 0, content: [] };
    const text = encodeTree({ nodes: [node] });
    const parsed = JSON.parse(text) as { nodes: Record<string, unknown>[] };
    expect(Object.keys(parsed.nodes[0]!)).toEqual(['name', 'type', 'mtime', 'atime', 'ctime', 'uid', 'gid', 'content']);
    expect(text).toContain('"uid":0,"gid":0,"content":[]');
    const dir = encodeTree({ nodes: [{ ...node, type: 'dir', content: null, size: 0, links: 0, user: '', inode: 0 }] });
    expect(dir).toContain('"content":null');
    expect(Object.keys((JSON.parse(dir) as { nodes: object[] }).nodes[0]!)).toEqual([
      'name', 'type', 'mtime', 'atime', 'ctime', 'uid', 'gid', 'content',
    ]);
    expect(encodeTree({ nodes: [] })).toBe('{"nodes":[]}\n');
  });

  it('Go-quotes names, then JSON-escapes them like Go', () => {
    const mk = (name: string): TreeNode => ({ name, type: 'file', mode: 420, mtime: T1, atime: T1, ctime: T1, uid: 0, gid: 0, content: [] });
    const text = encodeTree({ nodes: [mk('we"ird\\name'), mk('new\nline'), mk('a<b&c>'), mk('nb\u00a0sp'), mk('ls\u2028sep')] });
    // byte-for-byte what restic 0.14 writes for these names
    expect(text).toContain(String.raw`"name":"we\\\"ird\\\\name"`);
    expect(text).toContain(String.raw`"name":"new\\nline"`);
    expect(text).toContain(String.raw`"name":"a\u003cb\u0026c\u003e"`);
    expect(text).toContain(String.raw`"name":"nb\\u00a0sp"`);
    expect(text).toContain(String.raw`"name":"ls\\u2028sep"`);
    expect(text).not.toMatch(/[<>&\u2028\u2029]/);
    expect(text.indexOf('\n')).toBe(text.length - 1);
  });

  it('escapes U+2028 and U+2029 outside names too', () => {
    const text = encodeTree({
      nodes: [{ name: 'x', type: 'file', mode: 0, mtime: 0n, atime: 0n, ctime: 0n, uid: 0, gid: 0, user: 'a\u2028b\u2029', content: [] }],
    });
    expect(text).toContain(String.raw`"user":"a\u2028b\u2029"`);
  });

  it('decodeTree(encodeTree(t)) deep-equals t', () => {
    const tree: Tree = {
      nodes: [
        {
          name: 'we"ird\\name\n\t😀 é \u00a0', type: 'file', mode: 0o644, mtime: T2, atime: -1n, ctime: utcNs(1900, 1, 1, 0, 0, 0, 7n),
          uid: 4294967295, gid: 65534, user: 'ann', group: 'users', inode: 2 ** 40, device_id: 65024, size: 2 ** 33, links: 3,
          content: [C1, C2, C1],
        },
        { name: 'empty', type: 'file', mode: 0o600, mtime: T1, atime: T1, ctime: T1, uid: 0, gid: 0, content: [] },
        { name: 'd', type: 'dir', mode: 2147484141, mtime: T3, atime: T3, ctime: T3, uid: 0, gid: 0, content: null, subtree: SUB },
        { name: 'l', type: 'symlink', mode: 134218239, mtime: T1, atime: T1, ctime: T1, uid: 0, gid: 0, linktarget: '../"x"\n<y>', content: null },
        { name: 'null', type: 'chardev', mode: 69206454, mtime: T1, atime: T1, ctime: T1, uid: 0, gid: 0, device: 259, content: null },
        { name: 'sda', type: 'dev', mode: 2 ** 26 + 0o660, mtime: T1, atime: T1, ctime: T1, uid: 0, gid: 6, device: 2048, content: null },
        { name: 'p', type: 'fifo', mode: 2 ** 25 + 0o644, mtime: T1, atime: T1, ctime: T1, uid: 0, gid: 0, content: null },
        { name: 's', type: 'socket', mode: 2 ** 24 + 0o755, mtime: T1, atime: T1, ctime: T1, uid: 0, gid: 0, content: null },
        { name: 'odd', type: 'irregular', mode: 0, mtime: 0n, atime: 0n, ctime: 0n, uid: 0, gid: 0, content: null, error: 'cannot read' },
      ],
    };
    expect(decodeTree(encodeTree(tree))).toStrictEqual(tree);
    // and in a zone with a non-zero offset
    withTZ('Asia/Kolkata', () => {
      const text = encodeTree(tree);
      expect(text).toContain('+05:30"');
      expect(decodeTree(text)).toStrictEqual(tree);
    });
  });

  // A tree blob written by restic 0.14.0 (`restic cat blob 1298058b...`), verbatim.
  const RESTIC_TREE =
    [
      String.raw`{"nodes":[{"name":"empty","type":"file","mode":420,"mtime":"2026-11-23T16:07:32.084956325Z","atime":"2026-11-23T16:07:32.084956325Z","ctime":"2026-11-23T16:07:32.084956325Z","uid":0,"gid":0,"user":"root","group":"root","inode":2154907,"device_id":65024,"links":1,"content":[]},{`,
      String.raw`"name":"link","type":"symlink","mode":134218239,"mtime":"2026-11-23T16:07:32.096956325Z","atime":"2026-11-23T16:07:32.096956325Z","ctime":"2026-11-23T16:07:32.096956325Z","uid":0,"gid":0,"user":"root","group":"root","inode":2154908,"device_id":65024,"links":1,"linktarget":"we\"ird\\name","content":null},{`,
      String.raw`"name":"new\\nline","type":"file","mode":420,"mtime":"2026-11-23T16:07:32.084956325Z","atime":"2026-11-23T16:07:32.084956325Z","ctime":"2026-11-23T16:07:32.084956325Z","uid":0,"gid":0,"user":"root","group":"root","inode":2154905,"device_id":65024,"size":1,"links":1,"content":["2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"]},{`,
      String.raw`"name":"sub","type":"dir","mode":2147484141,"mtime":"2026-11-23T16:07:32.084956325Z","atime":"2026-11-23T16:07:32.084956325Z","ctime":"2026-11-23T16:07:32.084956325Z","uid":0,"gid":0,"user":"root","group":"root","inode":2154903,"device_id":65024,"content":null,"subtree":"6e869855bc06b0e6ae1156575eeaf3afe5c1a52b3d743f61db8388288d7dc671"},{`,
      String.raw`"name":"we\\\"ird\\\\name","type":"file","mode":420,"mtime":"2026-11-23T16:07:32.084956325Z","atime":"2026-11-23T16:07:32.084956325Z","ctime":"2026-11-23T16:07:32.084956325Z","uid":0,"gid":0,"user":"root","group":"root","inode":2154904,"device_id":65024,"size":5,"links":1,"content":["2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"]}]}`,
    ].join('') + '\n';

  it('decodes a real restic tree and re-encodes it byte for byte (same blob ID)', () => {
    expect(sha256Hex(RESTIC_TREE)).toBe('1298058bdb4e196ec1c9bf4587eeb00777c2394617c5aac4603042108da3358f');
    const tree = decodeTree(RESTIC_TREE);
    expect(tree.nodes.map((n) => n.name)).toEqual(['empty', 'link', 'new\nline', 'sub', 'we"ird\\name']);
    expect(tree.nodes.map((n) => n.type)).toEqual(['file', 'symlink', 'file', 'dir', 'file']);
    const link = tree.nodes[1]!;
    expect(link.linktarget).toBe('we"ird\\name');
    expect(link.content).toBeNull();
    expect(tree.nodes[0]!.content).toEqual([]);
    expect(tree.nodes[3]!.subtree).toBe(SUB);
    expect(tree.nodes[4]!.size).toBe(5);
    expect(tree.nodes[4]!.mtime).toBe(utcNs(2026, 11, 23, 16, 7, 32, 84_956_325n));
    expect(tree.nodes[4]!.content).toEqual([C1]);
    expect(posixPermissionsFromGo(tree.nodes[3]!.mode)).toBe(0o755);
    const again = encodeTree(tree);
    expect(again).toBe(RESTIC_TREE);
    expect(sha256Hex(again)).toBe('1298058bdb4e196ec1c9bf4587eeb00777c2394617c5aac4603042108da3358f');
  });

  it('reads linktarget_raw (base64 bytes) over linktarget', () => {
    const raw = Buffer.from('tärget', 'utf8').toString('base64');
    const t = decodeTree(`{"nodes":[{"name":"l","type":"symlink","linktarget":"x","linktarget_raw":"${raw}","content":null}]}`);
    expect(t.nodes[0]!.linktarget).toBe('tärget');
  });

  it('rejects unknown node types and missing nodes, naming them', () => {
    expect(() => decodeTree('{"nodes":[{"name":"x\\\\y","type":"weird","content":null}]}')).toThrow(
      'tree: node "x\\\\y" has unknown type "weird"',
    );
    expect(() => decodeTree('{"nodes":[{"name":"x","content":null}]}')).toThrow(/node "x" has unknown type/);
    expect(() => decodeTree('{}')).toThrow('missing "nodes"');
    expect(() => decodeTree('{"nodes":null}')).toThrow('missing "nodes"');
    expect(() => decodeTree('{"nodes":{}}')).toThrow('missing "nodes"');
    expect(() => decodeTree('null')).toThrow('missing "nodes"');
    expect(() => decodeTree('{"nodes":[{"type":"file"}]}')).toThrow('node 0 has no name');
    expect(() => decodeTree('{"nodes":[{"name":"ok","type":"file"},{"name":7,"type":"file"}]}')).toThrow('node 1 has no name');
    expect(() => decodeTree('{"nodes":[{"name":"a","type":"file","mtime":"not a time"}]}')).toThrow('"not a time"');
    expect(() => decodeTree('{"nodes":[{"name":"bad\\\\q","type":"file"}]}')).toThrow(/malformed/);
  });

  it('isSafeNodeName rejects names that could escape the restore target', () => {
    for (const bad of ['', '.', '..', 'a/b', '/', '../x', 'a\0b', '\0', 'x/..']) {
      expect(isSafeNodeName(bad), JSON.stringify(bad)).toBe(false);
      expect(isSafeNodeName(bad, { windows: true }), JSON.stringify(bad)).toBe(false);
    }
    for (const ok of ['a', '...', '.hidden', '..x', 'x..', 'we"ird', 'new\nline', '😀', ' ', 'a b']) {
      expect(isSafeNodeName(ok), JSON.stringify(ok)).toBe(true);
      expect(isSafeNodeName(ok, { windows: true }), JSON.stringify(ok)).toBe(true);
    }
    // A backslash is an ordinary character on POSIX but a separator on Windows.
    for (const winBad of ['a\\b', '..\\x', '\\', 'C:evil', 'c:']) {
      expect(isSafeNodeName(winBad), JSON.stringify(winBad)).toBe(true);
      expect(isSafeNodeName(winBad, { windows: true }), JSON.stringify(winBad)).toBe(false);
    }
  });
});

// ---------------------------------------------------------------------------
describe('pack: pack header codec', () => {
  const blobs: PackedBlob[] = [
    { id: randomId(), type: 'data', offset: 0, length: 100 },
    { id: randomId(), type: 'data', offset: 100, length: 50, uncompressedLength: 200 },
    { id: randomId(), type: 'tree', offset: 150, length: 30 },
    { id: randomId(), type: 'tree', offset: 180, length: 40, uncompressedLength: 1000 },
    { id: randomId(), type: 'data', offset: 220, length: 0xffffffff, uncompressedLength: 0xfffffffe },
    { id: '00'.repeat(32), type: 'data', offset: 220 + 0xffffffff, length: 32 },
  ];

  it('lays out 37-byte plain and 41-byte compressed entries', () => {
    expect(packHeaderPlainSize(blobs)).toBe(37 * 3 + 41 * 3);
    const h = encodePackHeader(blobs);
    expect(h.length).toBe(37 * 3 + 41 * 3);
    const dv = new DataView(h.buffer, h.byteOffset, h.byteLength);
    // entry 0: data, uncompressed
    expect(h[0]).toBe(0);
    expect(dv.getUint32(1, true)).toBe(100);
    expect(bytesToHex(h.subarray(5, 37))).toBe(blobs[0]!.id);
    // entry 1: data, compressed
    expect(h[37]).toBe(2);
    expect(dv.getUint32(38, true)).toBe(50);
    expect(dv.getUint32(42, true)).toBe(200);
    expect(bytesToHex(h.subarray(46, 78))).toBe(blobs[1]!.id);
    // entry 2: tree, uncompressed; entry 3: tree, compressed
    expect(h[78]).toBe(1);
    expect(dv.getUint32(79, true)).toBe(30);
    expect(h[115]).toBe(3);
    expect(dv.getUint32(116, true)).toBe(40);
    expect(dv.getUint32(120, true)).toBe(1000);
    expect(bytesToHex(h.subarray(124, 156))).toBe(blobs[3]!.id);
  });

  it('round-trips, computing offsets from the lengths', () => {
    const decoded = decodePackHeader(encodePackHeader(blobs));
    expect(decoded).toStrictEqual(blobs);
    expect('uncompressedLength' in decoded[0]!).toBe(false);
    // offsets in the input are not stored: they are recomputed
    const scrambled = blobs.map((b) => ({ ...b, offset: 12345 }));
    expect(decodePackHeader(encodePackHeader(scrambled)).map((b) => b.offset)).toEqual([0, 100, 150, 180, 220, 220 + 0xffffffff]);
    expect(decodePackHeader(new Uint8Array(0))).toEqual([]);
  });

  it('decodes a header that is a view into a larger buffer', () => {
    const h = encodePackHeader(blobs);
    const big = new Uint8Array(h.length + 13);
    big.fill(0xee);
    big.set(h, 7);
    expect(decodePackHeader(big.subarray(7, 7 + h.length))).toStrictEqual(blobs);
  });

  it('throws on a truncated header or unknown type byte', () => {
    const h = encodePackHeader(blobs);
    expect(() => decodePackHeader(h.subarray(0, h.length - 1))).toThrow('truncated entry at byte 197');
    expect(() => decodePackHeader(h.subarray(0, 36))).toThrow('truncated entry at byte 0');
    expect(() => decodePackHeader(h.subarray(0, 37 + 40))).toThrow('truncated entry at byte 37');
    expect(() => decodePackHeader(h.subarray(0, 1))).toThrow(/truncated/);
    const bad = Uint8Array.from(h);
    bad[78] = 4;
    expect(() => decodePackHeader(bad)).toThrow('unknown blob type 4 at byte 78');
    bad[78] = 0xff;
    expect(() => decodePackHeader(bad)).toThrow('unknown blob type 255 at byte 78');
  });

  it('hex helpers convert and validate', () => {
    expect(bytesToHex(Uint8Array.from([0, 1, 0x0f, 0x10, 0xab, 0xff]))).toBe('00010f10abff');
    expect(bytesToHex(new Uint8Array(0))).toBe('');
    expect(Array.from(hexToBytes('00010f10ABff'))).toEqual([0, 1, 0x0f, 0x10, 0xab, 0xff]);
    const id = randomId();
    expect(bytesToHex(hexToBytes(id))).toBe(id);
    expect(() => hexToBytes('abc')).toThrow('invalid hex ID "abc"');
    expect(() => hexToBytes('zz')).toThrow('invalid hex ID "zz"');
    expect(() => hexToBytes('0x12')).toThrow(/invalid hex ID/);
    expect(isId(id)).toBe(true);
    expect(isId(id.toUpperCase())).toBe(false);
    expect(isId(id.slice(1))).toBe(false);
    expect(isId(id + '0')).toBe(false);
    expect(isId('g'.repeat(64))).toBe(false);
  });
});
