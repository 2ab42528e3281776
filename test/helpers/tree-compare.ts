import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';

/** One entry of a folder tree, as compared between a source and a restore. */
export interface EntryFacts {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  /** Milliseconds: restorers set times with at least this precision. */
  mtimeMs: number;
  size: number;
  linkTarget?: string;
  sha?: string;
}

/** Describes every entry under `root` (relative paths), hashing file contents. */
export function describeTree(root: string): Map<string, EntryFacts> {
  const out = new Map<string, EntryFacts>();
  const walk = (rel: string) => {
    const abs = path.join(root, rel);
    const st = lstatSync(abs);
    const facts: EntryFacts = {
      type: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other',
      mode: st.mode & 0o7777,
      mtimeMs: Math.floor(st.mtimeMs),
      size: st.isFile() ? st.size : 0,
    };
    if (st.isSymbolicLink()) facts.linkTarget = readlinkSync(abs);
    if (st.isFile()) facts.sha = hash(readFileSync(abs));
    if (rel !== '') out.set(rel, facts);
    if (st.isDirectory()) for (const n of readdirSync(abs).sort()) walk(path.join(rel, n));
  };
  walk('');
  return out;
}

function hash(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Lists differences between two described trees (empty when equal). Symlink modes and times are not compared. */
export function diffTrees(a: Map<string, EntryFacts>, b: Map<string, EntryFacts>, opts: { times?: boolean } = {}): string[] {
  const diffs: string[] = [];
  for (const [p, fa] of a) {
    const fb = b.get(p);
    if (!fb) {
      diffs.push(`missing: ${p}`);
      continue;
    }
    if (fa.type !== fb.type) diffs.push(`${p}: type ${fa.type} vs ${fb.type}`);
    else if (fa.type === 'symlink') {
      if (fa.linkTarget !== fb.linkTarget) diffs.push(`${p}: link ${fa.linkTarget} vs ${fb.linkTarget}`);
    } else {
      if (fa.mode !== fb.mode) diffs.push(`${p}: mode ${fa.mode.toString(8)} vs ${fb.mode.toString(8)}`);
      if (fa.sha !== fb.sha) diffs.push(`${p}: content differs`);
      if (opts.times !== false && fa.mtimeMs !== fb.mtimeMs) diffs.push(`${p}: mtime ${fa.mtimeMs} vs ${fb.mtimeMs}`);
    }
  }
  for (const p of b.keys()) if (!a.has(p)) diffs.push(`unexpected: ${p}`);
  return diffs;
}
