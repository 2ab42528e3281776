import type { BlobLocation, BlobType, Id, IndexJSON } from '../../shared/repo/types.js';
import type { PackedBlob } from '../../shared/repo/pack.js';

/**
 * The in-memory union of a repository's index files: where every blob lives.
 * Data and tree blobs are kept apart, as restic keys blobs by (type, ID).
 */
export class MasterIndex {
  readonly data = new Map<Id, BlobLocation>();
  readonly tree = new Map<Id, BlobLocation>();
  /** Pack ID -> number of blobs indexed for it. */
  readonly packs = new Map<Id, number>();
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
    this.packs.set(packId, (this.packs.get(packId) ?? 0) + blobs.length);
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

  /** Every indexed blob of a pack (scans the whole index; used by check and prune). */
  blobsByPack(): Map<Id, PackedBlob[]> {
    const out = new Map<Id, PackedBlob[]>();
    for (const map of [this.data, this.tree]) {
      for (const loc of map.values()) {
        let list = out.get(loc.pack);
        if (!list) out.set(loc.pack, (list = []));
        const b: PackedBlob = { id: loc.id, type: loc.type, offset: loc.offset, length: loc.length };
        if (loc.uncompressed_length !== undefined) b.uncompressedLength = loc.uncompressed_length;
        list.push(b);
      }
    }
    return out;
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
