/**
 * Oracle test: the real restic binary chunks some files into a fresh
 * repository, and our Chunker (with that repository's polynomial) must cut
 * the same files into exactly the same blobs (SHA-256 IDs, in order).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Chunker, formatPolynomial, parsePolynomial } from '../../shared/chunker/index.js';

const MIB = 1024 * 1024;
const PASSWORD = 'lifeboat-chunker-test';

interface TreeNode {
  name: string;
  type: string;
  subtree?: string;
  content?: string[] | null;
}

function restic(args: string[], cwd?: string): string {
  const result = spawnSync('restic', [...args, '--no-cache', '--quiet'], {
    cwd,
    env: { ...process.env, RESTIC_PASSWORD: PASSWORD, RESTIC_PROGRESS_FPS: '0' },
    encoding: 'utf8',
    maxBuffer: 64 * MIB,
  });
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new Error('restic binary not found on PATH; install it with: apt-get install -y restic');
    }
    throw result.error;
  }
  if (result.status !== 0) {
    throw new Error(`restic ${args.join(' ')} exited with ${result.status}: ${result.stderr}`);
  }
  return result.stdout;
}

/** Deterministic pseudo-random bytes (xorshift32, little-endian words). */
function pseudoRandom(seed: number, length: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(length / 4));
  let s = seed | 0 || 1;
  for (let i = 0; i < words.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    words[i] = s >>> 0;
  }
  return new Uint8Array(words.buffer, 0, length);
}

/** Blob IDs our chunker produces for `data`, fed in uneven pieces like a streaming reader would. */
function ourBlobIds(chunker: Chunker, data: Uint8Array): string[] {
  chunker.reset();
  const ids: string[] = [];
  const piece = MIB + 12_345;
  let chunkStart = 0;
  for (let pos = 0; pos < data.length; pos += piece) {
    const end = Math.min(data.length, pos + piece);
    for (const off of chunker.scan(data.subarray(pos, end))) {
      ids.push(createHash('sha256').update(data.subarray(chunkStart, pos + off)).digest('hex'));
      chunkStart = pos + off;
    }
  }
  if (chunkStart < data.length) {
    ids.push(createHash('sha256').update(data.subarray(chunkStart)).digest('hex'));
  }
  return ids;
}

describe('Chunker against restic', () => {
  let dir = '';
  let polynomialHex = '';
  const files = new Map<string, Uint8Array>();
  const resticContent = new Map<string, string[]>();

  beforeAll(() => {
    const version = spawnSync('restic', ['version'], { encoding: 'utf8' });
    if (version.error || version.status !== 0) {
      throw new Error('restic is required for this test but could not be run; install it with: apt-get install -y restic');
    }

    dir = mkdtempSync(join(tmpdir(), 'lifeboat-chunker-'));
    const repo = join(dir, 'repo');
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir);

    restic(['init', '--repo', repo]);
    const config = JSON.parse(restic(['cat', 'config', '--repo', repo])) as { chunker_polynomial: string };
    polynomialHex = config.chunker_polynomial;

    // ~20 MiB of pseudo-random data: many content-defined cuts.
    files.set('random.bin', pseudoRandom(0x5eed, 20 * MIB + 4321));
    // Long zero runs (cut every MinSize), a run longer than MaxSize of a
    // repeating pattern without cuts, and random data in between.
    const zeros = new Uint8Array(30 * MIB);
    zeros.set(pseudoRandom(7, 3 * MIB + 17), 0);
    zeros.set(pseudoRandom(8, 2 * MIB), 9 * MIB + 333);
    const pattern = pseudoRandom(9, 4096);
    for (let off = 14 * MIB; off < 24 * MIB; off += pattern.length) zeros.set(pattern, off);
    zeros.set(pseudoRandom(10, MIB), 27 * MIB);
    files.set('zeros.bin', zeros);
    files.set('tiny.txt', new TextEncoder().encode('hello, restic\n'));
    files.set('empty.bin', new Uint8Array(0));
    for (const [name, data] of files) writeFileSync(join(dataDir, name), data);

    // Backing up "." makes the snapshot's root tree list the files directly.
    const summaryLine = restic(['backup', '--repo', repo, '--json', '.'], dataDir)
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { message_type?: string; snapshot_id?: string })
      .find((msg) => msg.message_type === 'summary');
    const snapshotId = summaryLine?.snapshot_id;
    if (!snapshotId) throw new Error('restic backup did not report a snapshot id');
    const snapshot = JSON.parse(restic(['cat', 'snapshot', snapshotId, '--repo', repo])) as { tree: string };
    const tree = JSON.parse(restic(['cat', 'blob', snapshot.tree, '--repo', repo])) as { nodes: TreeNode[] };
    for (const node of tree.nodes) {
      if (node.type === 'file') resticContent.set(node.name, node.content ?? []);
    }
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reads the repository polynomial', () => {
    const pol = parsePolynomial(polynomialHex);
    expect(formatPolynomial(pol)).toBe(polynomialHex);
  });

  it('produces the same blob IDs as restic for every file', () => {
    const chunker = new Chunker(parsePolynomial(polynomialHex));
    expect([...resticContent.keys()].sort()).toEqual([...files.keys()].sort());
    for (const [name, data] of files) {
      expect(ourBlobIds(chunker, data), name).toEqual(resticContent.get(name));
    }
    // Sanity: the interesting files really were split into several chunks.
    // (Counts depend on restic's random polynomial; these bounds hold for any:
    // 20 MiB needs >= 3 chunks of <= 8 MiB, and ~12 MiB of zero runs are cut
    // every 512 KiB.)
    expect(resticContent.get('random.bin')!.length).toBeGreaterThanOrEqual(3);
    expect(resticContent.get('zeros.bin')!.length).toBeGreaterThan(15);
    expect(resticContent.get('empty.bin')).toEqual([]);
    expect(resticContent.get('tiny.txt')!.length).toBe(1);
  });
});
