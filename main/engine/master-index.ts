import type { BlobLocation, BlobType, Id, IndexJSON } from '../../shared/repo/types.js';
import type { PackedBlob } from '../../shared/repo/pack.js';

/**
 * The in-memory union of a repository's index files: where every blob lives.
 * Data and tree blobs are kept apart, as restic keys blobs by (type, ID).
 */
export class MasterIndex {
  readonly data = new Map<Id, BlobLocation>();
  readonly tree = new Map<Id, BlobLocation>();
  /** Pack ID -> every blob the index lists for it, duplicates of blobs stored elsewhere included. */
  readonly packs = new Map<Id, PackedBlob[]>();
  /** IDs of the index files this was loaded from. */
  readonly files = new Set<Id>();

  get(type: BlobType, id: Id): BlobLocation | undefined {
    return (type === 'data' ? this.data : this.tree).get(id);
  }

  has(type: BlobType, id: Id): boolean {
    return (type === 'data' ? this.data : this.tree).has(id);
  }

  /** Adds every blob of a pack. A blob already known elsewhere keeps its first location. */
  addPack(packId: Id, blobs: readonly PackedBlob[]): void {
    const listed = this.packs.get(packId);
    if (listed) {
      // The same pack in several index files: list each blob once.
      const seen = new Set(listed.map((b) => `${b.type}:${b.id}:${b.offset}`));
      for (const b of blobs) if (!seen.has(`${b.type}:${b.id}:${b.offset}`)) listed.push(b);
    } else {
      this.packs.set(packId, [...blobs]);
    }
    for (const b of blobs) {
      const map = b.type === 'data' ? this.data : this.tree;
      if (map.has(b.id)) continue;
      const loc: BlobLocation = { id: b.id, type: b.type, pack: packId, offset: b.offset, length: b.length };
      if (b.uncompressedLength !== undefined) loc.uncompressed_length = b.uncompressedLength;
      map.set(b.id, loc);
    }
  }

  addIndexFile(fileId: Id, json: IndexJSON): void {
    this.files.add(fileId);
    for (const p of json.packs ?? []) {
      this.addPack(
        p.id,
        p.blobs.map((b) => ({ id: b.id, type: b.type, offset: b.offset, length: b.length, uncompressedLength: b.uncompressed_length })),
      );
    }
  }

  /** Every indexed blob of every pack, duplicates included (used by check and prune). */
  blobsByPack(): Map<Id, PackedBlob[]> {
    return this.packs;
  }
}

/** Serialises packs into index JSON documents, each kept well below restic's 8 MiB guideline. */
export function encodeIndexFiles(packs: readonly { id: Id; blobs: readonly PackedBlob[] }[], maxBlobsPerFile = 50_000): string[] {
  const files: string[] = [];
  let current: IndexJSON['packs'] = [];
  let blobs = 0;
  const flush = () => {
    if (current.length === 0) return;
    files.push(JSON.stringify({ packs: current }));
    current = [];
    blobs = 0;
  };
  for (const p of packs) {
    current.push({
      id: p.id,
      blobs: p.blobs.map((b) => {
        const e: IndexJSON['packs'][number]['blobs'][number] = { id: b.id, type: b.type, offset: b.offset, length: b.length };
        if (b.uncompressedLength !== undefined) e.uncompressed_length = b.uncompressedLength;
        return e;
      }),
    });
    blobs += p.blobs.length;
    if (blobs >= maxBlobsPerFile) flush();
  }
  flush();
  return files;
}
