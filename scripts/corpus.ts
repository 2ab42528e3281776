/**
 * Deterministic benchmark corpus: a mixed tree of prose, source code, random
 * binaries, thousands of small files, one large partly compressible file and
 * duplicates, generated from a seed so that every run sees the same bytes.
 *
 * The corpus lives in `<work>/corpus/`; `<work>/corpus.json` records the
 * parameters and totals, and a corpus whose manifest matches (and whose file
 * count and byte total still match) is reused instead of being regenerated.
 *
 *   node --import tsx scripts/corpus.ts [--size-mb 1024] [--work bench-work] [--seed 1] [--force]
 */
import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, lstatSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Bump when the generator changes, so that old corpora are regenerated. */
const GENERATOR_VERSION = 2;
const MiB = 1024 * 1024;
const KiB = 1024;

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_WORK = join(PROJECT_ROOT, 'bench-work');

export interface CorpusOptions {
  work: string;
  sizeMb: number;
  seed: number;
  force?: boolean;
  log?: (line: string) => void;
}

export interface CorpusManifest {
  generator: number;
  seed: number;
  sizeMb: number;
  files: number;
  dirs: number;
  bytes: number;
  /** Bytes by kind of file (text, source, binary, small, large, duplicate). */
  kinds: Record<string, { files: number; bytes: number }>;
  generatedAt: string;
  generationSeconds: number;
}

export interface Corpus {
  dir: string;
  manifest: CorpusManifest;
  reused: boolean;
}

// ---------------------------------------------------------------- randomness

/** Small seeded PRNG (sfc32) for structural choices: sizes, names, words. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: string) {
    const h = createHash('sha256').update(seed).digest();
    this.a = h.readUInt32LE(0);
    this.b = h.readUInt32LE(4);
    this.c = h.readUInt32LE(8);
    this.d = h.readUInt32LE(12);
    for (let i = 0; i < 12; i++) this.next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** Log-uniform integer in [lo, hi]: many small values, a few large ones. */
  logInt(lo: number, hi: number): number {
    return Math.round(Math.exp(Math.log(lo) + this.next() * (Math.log(hi) - Math.log(lo))));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

/** Deterministic incompressible bytes: the AES-256-CTR keystream of a key derived from the seed and a label. */
export class KeyStream {
  private readonly cipher;
  private zeros = Buffer.alloc(0);

  constructor(seed: number, label: string) {
    const key = createHash('sha256').update(`lifeboat-bench:${seed}:${label}`).digest();
    this.cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  }

  bytes(n: number): Buffer {
    if (this.zeros.length < n) this.zeros = Buffer.alloc(n);
    return this.cipher.update(this.zeros.subarray(0, n));
  }
}

// ---------------------------------------------------------------- prose and code

const SYLLABLES = [
  'a', 'ba', 'be', 'bi', 'bo', 'ca', 'ce', 'co', 'da', 'de', 'di', 'do', 'en', 'er', 'es', 'fa', 'fe', 'fi', 'ga', 'ge',
  'ha', 'he', 'hi', 'in', 'is', 'ka', 'la', 'le', 'li', 'lo', 'ma', 'me', 'mi', 'mo', 'na', 'ne', 'ni', 'no', 'on', 'or',
  'pa', 'pe', 'pi', 'po', 'ra', 're', 'ri', 'ro', 'sa', 'se', 'si', 'so', 'ta', 'te', 'ti', 'to', 'tu', 'un', 'va', 've',
  'ver', 'vi', 'wa', 'we', 'xi', 'za', 'ze', 'th', 'st', 'ing', 'ion', 'ent', 'al', 'ous', 'ble', 'ment', 'ness',
];
const COMMON = ['the', 'of', 'and', 'to', 'in', 'a', 'is', 'that', 'for', 'it', 'as', 'with', 'was', 'on', 'be', 'by', 'at', 'this', 'from', 'or'];

class Vocabulary {
  readonly words: Buffer[];
  readonly capitalized: Buffer[];
  readonly idents: string[];

  constructor(rng: Rng) {
    const seen = new Set<string>(COMMON);
    const words = [...COMMON];
    while (words.length < 6000) {
      let w = '';
      const n = rng.int(1, 4);
      for (let i = 0; i < n; i++) w += rng.pick(SYLLABLES);
      if (!seen.has(w)) {
        seen.add(w);
        words.push(w);
      }
    }
    this.words = words.map((w) => Buffer.from(w));
    this.capitalized = words.map((w) => Buffer.from(w[0]!.toUpperCase() + w.slice(1)));
    this.idents = words.slice(COMMON.length, COMMON.length + 1500);
  }

  /** A word index with a Zipf-like skew (frequent words come first). */
  index(rng: Rng): number {
    const u = rng.next();
    return Math.floor(u * u * u * this.words.length);
  }
}

const SPACE = 0x20;
const NEWLINE = 0x0a;
const PERIOD = 0x2e;
const COMMA = 0x2c;

/** Fills `buf` with prose: sentences, wrapped lines, paragraphs. */
function fillProse(buf: Buffer, vocab: Vocabulary, rng: Rng): void {
  let pos = 0;
  let col = 0;
  let sentenceLeft = 0;
  let paragraphLeft = rng.int(3, 8);
  const n = buf.length;
  while (pos < n) {
    let start = false;
    if (sentenceLeft === 0) {
      sentenceLeft = rng.int(5, 22);
      start = true;
    }
    const i = vocab.index(rng);
    const w = (start ? vocab.capitalized[i] : vocab.words[i])!;
    for (let k = 0; k < w.length && pos < n; k++) buf[pos++] = w[k]!;
    col += w.length;
    sentenceLeft--;
    if (pos >= n) break;
    if (sentenceLeft === 0) {
      buf[pos++] = PERIOD;
      col++;
      if (--paragraphLeft === 0) {
        paragraphLeft = rng.int(3, 8);
        if (pos < n) buf[pos++] = NEWLINE;
        if (pos < n) buf[pos++] = NEWLINE;
        col = 0;
        continue;
      }
    } else if (rng.next() < 0.07) {
      buf[pos++] = COMMA;
      col++;
    }
    if (pos >= n) break;
    if (col > 72) {
      buf[pos++] = NEWLINE;
      col = 0;
    } else {
      buf[pos++] = SPACE;
      col++;
    }
  }
}

type Lang = 'ts' | 'c' | 'py';

function codeLines(lang: Lang, vocab: Vocabulary, rng: Rng, target: number): string {
  const id = () => rng.pick(vocab.idents);
  const Id = () => {
    const s = id();
    return s[0]!.toUpperCase() + s.slice(1);
  };
  const num = () => String(rng.int(0, 4096));
  const out: string[] = [];
  let size = 0;
  const push = (line: string) => {
    out.push(line);
    size += line.length + 1;
  };
  push(lang === 'py' ? `# ${id()} ${id()}: generated benchmark source` : `// ${id()} ${id()}: generated benchmark source`);
  if (lang === 'ts') push(`import { ${id()}, ${id()} } from './${id()}.js';`);
  else if (lang === 'c') push(`#include "${id()}.h"`);
  else push(`from ${id()} import ${id()}, ${id()}`);
  push('');
  while (size < target) {
    const fn = id() + Id();
    const a = id();
    const b = id();
    const body = rng.int(3, 14);
    if (lang === 'ts') push(`export function ${fn}(${a}: number, ${b}: ${Id()}): ${Id()} {`);
    else if (lang === 'c') push(`static int ${fn}(int ${a}, struct ${id()} *${b}) {`);
    else push(`def ${fn}(${a}, ${b}):`);
    for (let i = 0; i < body && size < target; i++) {
      const ind = '  '.repeat(1 + (i % 3 === 2 ? 1 : 0));
      const r = rng.next();
      if (lang === 'py') {
        if (r < 0.4) push(`${ind}${id()} = ${a} + ${id()}(${b}, ${num()})`);
        else if (r < 0.7) push(`${ind}if ${a} > ${num()}:\n${ind}    return ${id()}(${b})`);
        else push(`${ind}${b}.${id()}(${a}, "${id()} ${id()}")`);
      } else {
        const decl = lang === 'ts' ? 'const' : 'int';
        if (r < 0.4) push(`${ind}${decl} ${id()} = ${a} + ${id()}(${b}, ${num()});`);
        else if (r < 0.7) push(`${ind}if (${a} > ${num()}) { return ${id()}(${b}); }`);
        else push(`${ind}${b}${lang === 'c' ? '->' : '.'}${id()}(${a}, "${id()} ${id()}");`);
      }
    }
    if (lang === 'py') push(`    return ${a}`);
    else {
      push(`  return ${a};`);
      push('}');
    }
    push('');
  }
  return out.join('\n');
}

function sourceBuffer(lang: Lang, size: number, vocab: Vocabulary, rng: Rng): Buffer {
  const b = Buffer.from(codeLines(lang, vocab, rng, size));
  return b.length > size ? b.subarray(0, size) : b;
}

function proseBuffer(size: number, vocab: Vocabulary, rng: Rng): Buffer {
  const b = Buffer.allocUnsafe(size);
  fillProse(b, vocab, rng);
  return b;
}

/** Log-like records: highly compressible yet unique (timestamps and counters differ). */
function recordsBuffer(size: number, vocab: Vocabulary, rng: Rng, counter: { n: number }): Buffer {
  const lines: string[] = [];
  let len = 0;
  while (len < size) {
    const n = counter.n++;
    const line = `${String(1_700_000_000 + n * 7)} INFO ${rng.pick(vocab.idents)} request=${n} status=${rng.pick(['200', '200', '200', '304', '404', '500'])} bytes=${rng.int(100, 99999)}\n`;
    lines.push(line);
    len += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, size);
}

// ---------------------------------------------------------------- generation

interface Written {
  path: string;
  size: number;
}

function writeFile(path: string, ...parts: Buffer[]): number {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'w');
  let n = 0;
  try {
    for (const p of parts) {
      let off = 0;
      while (off < p.length) off += writeSync(fd, p, off, p.length - off);
      n += p.length;
    }
  } finally {
    closeSync(fd);
  }
  return n;
}

/** Generates the corpus into `dir` (which must not exist). */
function generate(dir: string, sizeMb: number, seed: number, log: (l: string) => void): Omit<CorpusManifest, 'generatedAt' | 'generationSeconds' | 'files' | 'dirs' | 'bytes'> {
  const total = sizeMb * MiB;
  const budget = {
    text: Math.round(total * 0.2),
    source: Math.round(total * 0.15),
    binary: Math.round(total * 0.25),
    small: Math.round(total * 0.1),
    large: Math.round(total * 0.25),
  };
  const rng = new Rng(`corpus:${seed}`);
  const vocab = new Vocabulary(new Rng(`vocab:${seed}`));
  const kinds: Record<string, { files: number; bytes: number }> = {};
  const candidates: Written[] = [];
  const add = (kind: string, path: string, size: number, dupable: boolean) => {
    const k = (kinds[kind] ??= { files: 0, bytes: 0 });
    k.files++;
    k.bytes += size;
    if (dupable) candidates.push({ path, size });
  };

  // Prose: 16 KiB to 4 MiB, in 16 folders.
  const textMax = Math.max(32 * KiB, Math.min(4 * MiB, Math.round(total / 64)));
  for (let used = 0, i = 0; used < budget.text; i++) {
    const size = Math.min(rng.logInt(16 * KiB, textMax), budget.text - used);
    const p = join(dir, 'documents', `shelf-${String(i % 16).padStart(2, '0')}`, `${vocab.idents[i % vocab.idents.length]}-${i}.txt`);
    used += writeFile(p, proseBuffer(size, vocab, rng));
    add('text', p, size, true);
  }
  log(`  text: ${kinds.text?.files} files`);

  // Source code: 2 KiB to 256 KiB, packages with modules.
  const langs: Lang[] = ['ts', 'c', 'py'];
  for (let used = 0, i = 0; used < budget.source; i++) {
    const lang = langs[i % 3]!;
    const size = Math.min(rng.logInt(2 * KiB, 256 * KiB), budget.source - used);
    const p = join(dir, 'src', `pkg-${i % 12}`, `mod-${Math.floor(i / 12) % 9}`, `${vocab.idents[(i * 7) % vocab.idents.length]}-${i}.${lang}`);
    const b = sourceBuffer(lang, size, vocab, rng);
    used += writeFile(p, b);
    add('source', p, b.length, true);
  }
  log(`  source: ${kinds.source?.files} files`);

  // Binaries: random bytes (incompressible), 64 KiB to 32 MiB.
  const binaryMax = Math.max(128 * KiB, Math.min(32 * MiB, Math.round(total / 32)));
  for (let used = 0, i = 0; used < budget.binary; i++) {
    const size = Math.min(rng.logInt(64 * KiB, binaryMax), budget.binary - used);
    const p = join(dir, 'media', `set-${i % 6}`, `blob-${String(i).padStart(4, '0')}.${rng.pick(['jpg', 'zip', 'bin', 'mp4'])}`);
    used += writeFile(p, new KeyStream(seed, `binary:${i}`).bytes(size));
    add('binary', p, size, true);
  }
  log(`  binary: ${kinds.binary?.files} files`);

  // Many small files (1 to 16 KiB) in nested folders, ~24 per folder, depth 2 to 4.
  const ks = new KeyStream(seed, 'small');
  for (let used = 0, i = 0; used < budget.small; i++) {
    const size = Math.min(rng.int(1 * KiB, 16 * KiB), Math.max(1, budget.small - used));
    const leaf = Math.floor(i / 24);
    const parts = [`t${leaf % 7}`, `u${Math.floor(leaf / 7) % 11}`];
    if (leaf % 3 !== 0) parts.push(`v${Math.floor(leaf / 77)}`);
    if (leaf % 5 === 1) parts.push('w');
    const r = rng.next();
    const [ext, data] =
      r < 0.45 ? ['md', proseBuffer(size, vocab, rng)] : r < 0.8 ? ['js', sourceBuffer('ts', size, vocab, rng)] : ['dat', ks.bytes(size)];
    const p = join(dir, 'small', ...parts, `f${i}.${ext}`);
    used += writeFile(p, data);
    add('small', p, data.length, i % 50 === 0);
  }
  log(`  small: ${kinds.small?.files} files`);

  // One large file: 1 MiB blocks, about half random, the rest prose and log records.
  {
    const p = join(dir, 'vm', 'disk-image.img');
    mkdirSync(dirname(p), { recursive: true });
    const fd = openSync(p, 'w');
    const lks = new KeyStream(seed, 'large');
    const counter = { n: 0 };
    let used = 0;
    try {
      while (used < budget.large) {
        const size = Math.min(MiB, budget.large - used);
        const r = rng.next();
        const b = r < 0.5 ? lks.bytes(size) : r < 0.8 ? proseBuffer(size, vocab, rng) : recordsBuffer(size, vocab, rng, counter);
        let off = 0;
        while (off < b.length) off += writeSync(fd, b, off, b.length - off);
        used += size;
      }
    } finally {
      closeSync(fd);
    }
    add('large', p, used, false);
  }
  log(`  large: ${(kinds.large?.bytes ?? 0) / MiB} MiB`);

  // Duplicates: copies of earlier files, up to 5% of the corpus.
  const dupBudget = Math.round(total * 0.05);
  for (let used = 0, i = 0, misses = 0; used < dupBudget && misses < 1000; i++) {
    const src = rng.pick(candidates);
    if (src.size > dupBudget - used || src.size > total * 0.02) {
      misses++;
      continue;
    }
    const base = src.path.slice(src.path.lastIndexOf('/') + 1);
    const p = join(dir, 'copies', `copy-${i % 4}`, `${i}-${base}`);
    mkdirSync(dirname(p), { recursive: true });
    copyFileSync(src.path, p);
    used += src.size;
    add('duplicate', p, src.size, false);
  }
  log(`  duplicate: ${kinds.duplicate?.files ?? 0} files`);

  return { generator: GENERATOR_VERSION, seed, sizeMb, kinds };
}

export interface TreeStats {
  files: number;
  dirs: number;
  bytes: number;
}

/** Regular files under `dir` (relative paths, sorted) with their sizes. */
export function listFiles(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.set(relative(dir, p), lstatSync(p).size);
    }
  };
  walk(dir);
  return new Map([...out.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

/** Counts files, folders (below `dir`) and bytes of regular files. */
export function treeStats(dir: string): TreeStats {
  const s: TreeStats = { files: 0, dirs: 0, bytes: 0 };
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        s.dirs++;
        walk(p);
      } else {
        s.files++;
        s.bytes += lstatSync(p).size;
      }
    }
  };
  walk(dir);
  return s;
}

/** Returns the corpus for these parameters, generating it unless a matching one exists. */
export function ensureCorpus(o: CorpusOptions): Corpus {
  const log = o.log ?? (() => {});
  const dir = join(o.work, 'corpus');
  const manifestPath = join(o.work, 'corpus.json');
  if (!o.force && existsSync(manifestPath) && existsSync(dir)) {
    try {
      const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as CorpusManifest;
      if (m.generator === GENERATOR_VERSION && m.seed === o.seed && m.sizeMb === o.sizeMb) {
        const s = treeStats(dir);
        if (s.files === m.files && s.bytes === m.bytes && s.dirs === m.dirs) {
          log(`corpus: reusing ${dir} (${m.files} files, ${(m.bytes / MiB).toFixed(1)} MiB, seed ${m.seed})`);
          return { dir, manifest: m, reused: true };
        }
        log('corpus: existing corpus does not match its manifest; regenerating');
      }
    } catch {
      log('corpus: unreadable manifest; regenerating');
    }
  }
  rmSync(manifestPath, { force: true });
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  log(`corpus: generating ${o.sizeMb} MiB (seed ${o.seed}) in ${dir}`);
  const t0 = performance.now();
  const partial = generate(dir, o.sizeMb, o.seed, log);
  const s = treeStats(dir);
  const manifest: CorpusManifest = {
    ...partial,
    files: s.files,
    dirs: s.dirs,
    bytes: s.bytes,
    generatedAt: new Date().toISOString(),
    generationSeconds: Math.round((performance.now() - t0) / 10) / 100,
  };
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  log(`corpus: ${s.files} files, ${s.dirs} folders, ${(s.bytes / MiB).toFixed(1)} MiB in ${manifest.generationSeconds} s`);
  return { dir, manifest, reused: false };
}

// ---------------------------------------------------------------- command line

export function parseCommonArgs(argv: string[]): { sizeMb: number; work: string; seed: number; rest: string[] } {
  let sizeMb = 1024;
  let work = DEFAULT_WORK;
  let seed = 1;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--size-mb') sizeMb = positiveInt(value(), a);
    else if (a === '--work') work = resolve(value());
    else if (a === '--seed') seed = positiveInt(value(), a);
    else rest.push(a);
  }
  return { sizeMb, work, seed, rest };
}

function positiveInt(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: expected a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    const { sizeMb, work, seed, rest } = parseCommonArgs(process.argv.slice(2));
    const force = rest.includes('--force');
    const unknown = rest.filter((a) => a !== '--force');
    if (unknown.length) throw new Error(`unknown arguments: ${unknown.join(' ')} (usage: corpus.ts [--size-mb N] [--work DIR] [--seed N] [--force])`);
    const c = ensureCorpus({ work, sizeMb, seed, force, log: (l) => console.log(l) });
    console.log(JSON.stringify(c.manifest, null, 2));
  } catch (e) {
    console.error(`corpus: ${(e as Error).message}`);
    process.exitCode = 1;
  }
}
