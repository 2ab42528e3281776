/** Tree node order (Go sorts names by their UTF-8 bytes) and node equality (what decides that a parent's tree stands as is). */
import { describe, expect, it } from 'vitest';
import { compareUtf8, decodeTree, encodeTree, sameNode } from '../../shared/repo/tree.js';
import type { TreeNode } from '../../shared/repo/types.js';
import { seededRandom } from '../../shared/seeded-random.js';

const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

describe('compareUtf8', () => {
  it('orders as the UTF-8 bytes do, across the BMP, the surrogate range boundary and astral characters', () => {
    const names = ['a', 'B', 'é', 'z', '\u00ff', '\u0800', '\ud7ff', '\ue000', '\uffff', '😀', '𝄞', '\ufb01', 'ab', 'a\u0000', ''];
    expect([...names].sort(compareUtf8)).toEqual([...names].sort(byBytes));
  });

  it('agrees with the byte order on random strings', () => {
    const rand = seededRandom(20261123);
    const pick = () => {
      const r = rand();
      if (r < 0.4) return String.fromCharCode(0x20 + Math.floor(rand() * 0x5f));
      if (r < 0.6) return String.fromCharCode(0x80 + Math.floor(rand() * 0xd780));
      if (r < 0.8) return String.fromCharCode(0xe000 + Math.floor(rand() * 0x2000));
      return String.fromCodePoint(0x10000 + Math.floor(rand() * 0xfffff));
    };
    for (let i = 0; i < 2000; i++) {
      const a = Array.from({ length: 1 + Math.floor(rand() * 4) }, pick).join('');
      const b = rand() < 0.3 ? a.slice(0, -1) + pick() : Array.from({ length: 1 + Math.floor(rand() * 4) }, pick).join('');
      expect(Math.sign(compareUtf8(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(Math.sign(byBytes(a, b)));
    }
  });
});

describe('sameNode', () => {
  const node: TreeNode = {
    name: 'f.txt',
    type: 'file',
    mode: 0o644,
    mtime: 1_700_000_000_123_456_789n,
    atime: 1_700_000_000_000_000_001n,
    ctime: 1_700_000_001_000_000_000n,
    uid: 1000,
    gid: 1000,
    user: 'admin',
    inode: 42,
    device_id: 2049,
    size: 12,
    links: 1,
    content: ['ab'.repeat(32)],
  };

  it('is true exactly when the encodings are equal', () => {
    const variants: Partial<TreeNode>[] = [
      { mode: 0o600 },
      { mtime: node.mtime + 1n },
      { atime: node.atime + 1n },
      { ctime: node.ctime - 1n },
      { uid: 0 },
      { gid: 0 },
      { user: 'other' },
      { group: 'staff' },
      { inode: 43 },
      { device_id: 1 },
      { size: 13 },
      { links: 2 },
      { linktarget: 'x' },
      { content: ['cd'.repeat(32)] },
      { content: [...node.content!, 'ef'.repeat(32)] },
      { subtree: 'ee'.repeat(32) },
      { error: 'x' },
      { name: 'g.txt' },
      { type: 'symlink' },
      {},
    ];
    for (const v of variants) {
      const other = { ...node, ...v };
      const sameBytes = encodeTree({ nodes: [node] }) === encodeTree({ nodes: [other] });
      expect(sameNode(node, other), Object.keys(v).join() || "(none)").toBe(sameBytes);
    }
  });

  it('treats an absent field as its zero value, as the encoding does (omitempty)', () => {
    const round = decodeTree(encodeTree({ nodes: [{ ...node, links: 0 }] })).nodes[0]!;
    expect(round.links).toBeUndefined();
    expect(sameNode(round, { ...node, links: 0 })).toBe(true);
  });

  it('a decoded tree with fields Lifeboat does not model is marked, so it never stands for a folder', () => {
    const text = encodeTree({ nodes: [node] }).replace('"uid"', '"generic_attributes":{"windows.creation_time":"AA=="},"uid"');
    expect(decodeTree(text).foreignFields).toBe(true);
    expect(decodeTree(encodeTree({ nodes: [node] })).foreignFields).toBeUndefined();
  });
});
