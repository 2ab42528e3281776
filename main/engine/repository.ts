import { createHash, randomBytes } from 'node:crypto';
import os from 'node:os';
import { formatPolynomial, parsePolynomial, randomPolynomial } from '../../shared/chunker/index.js';
import { decodePackHeader, type PackedBlob } from '../../shared/repo/pack.js';
import { decodeTree } from '../../shared/repo/tree.js';
import { parseGoTime } from '../../shared/repo/gotime.js';
import type { BlobType, FileType, Id, IndexJSON, RepoConfig, Snapshot, SnapshotJSON, Tree } from '../../shared/repo/types.js';
import { createKeyFile, newRandomKey, open, openKeyFile, seal, WrongPasswordError, type MasterKey, type UserKeyCache } from '../../workers/crypto/crypto.js';
import { openBlob, openUnpacked, sealUnpacked } from '../../workers/engine/blob.js';
import type { WireKey } from '../../workers/engine-messages.js';
import { RepositoryNotFoundError, SnapshotNotFoundError } from './errors.js';
import { encodeIndexFiles, MasterIndex } from './master-index.js';
import { isNotFound, loadAll, type StorageTarget } from './targets/target.js';

export const PROGRAM_VERSION = 'lifeboat 0.1.0';

function sha256hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/**
 * An open restic repository (format version 1 or 2; new repositories are
 * version 2). Holds the master key and, once loaded, the master index. All
 * reads verify: files by their storage ID, blobs by MAC and plaintext hash.
 */
/** A tree-only pack up to this size is read whole when one of its trees is first needed. */
const TREE_PACK_READ_MAX = 16 * 1024 * 1024;
/** Bytes of tree packs kept in memory (the oldest read are dropped first). */
const TREE_PACK_CACHE_MAX = 64 * 1024 * 1024;

export class Repository {
  readonly index = new MasterIndex();
  private indexLoaded = false;
  /** Ciphertexts of the tree blobs of tree-only packs read whole, by pack (see `loadTree`). */
  private readonly treePacks = new Map<Id, Promise<Map<Id, Buffer> | undefined>>();
  private readonly treePackSizes = new Map<Id, number>();
  private treePackBytes = 0;

  private constructor(
    readonly target: StorageTarget,
    readonly key: MasterKey,
    readonly config: RepoConfig,
    /** Storage ID of the key file the password opened. */
    readonly keyId: Id,
  ) {}

  /** Creates a new, empty repository (format 2, random chunker polynomial). */
  static async init(target: StorageTarget, password: string): Promise<Repository> {
    if (!password) throw new Error('password: must not be empty');
    await target.create();
    const key = newRandomKey();
    const config: RepoConfig = { version: 2, id: randomBytes(32).toString('hex'), chunker_polynomial: formatPolynomial(randomPolynomial()) };
    const keyFile = await createKeyFile(password, key, { username: os.userInfo().username, hostname: os.hostname(), now: new Date() });
    const keyId = sha256hex(keyFile.json);
    await target.save({ type: 'keys', name: keyId }, keyFile.json);
    // The config is encrypted but never compressed (restic design, "Unpacked Data Format").
    await target.save({ type: 'config', name: '' }, seal(key, Buffer.from(JSON.stringify(config))));
    return new Repository(target, key, config, keyId);
  }

  /**
   * Opens an existing repository; throws WrongPasswordError when no key file
   * accepts the password. `keyCache`: user keys derived before by this process
   * (a long-running one: see `UserKeyCache`), so scrypt runs once per key file.
   */
  static async open(target: StorageTarget, password: string, opts: { keyCache?: UserKeyCache } = {}): Promise<Repository> {
    let configBytes: Buffer;
    try {
      configBytes = await loadAll(target, { type: 'config', name: '' });
    } catch (e) {
      if (isNotFound(e)) throw new RepositoryNotFoundError(target.location);
      throw e;
    }
    const keys = await target.list('keys');
    for (const k of keys) {
      const json = await loadAll(target, { type: 'keys', name: k.name });
      let key: MasterKey;
      try {
        key = await openKeyFile(password, json, opts.keyCache);
      } catch (e) {
        if (e instanceof WrongPasswordError) continue;
        throw new Error(`key file ${k.name} is unreadable: ${(e as Error).message}`);
      }
      const config = JSON.parse(open(key, configBytes).toString('utf8')) as RepoConfig;
      if (config.version !== 1 && config.version !== 2) {
        throw new Error(`repository at ${target.location} has format version ${config.version}; this Lifeboat reads versions 1 and 2`);
      }
      parsePolynomial(config.chunker_polynomial);
      return new Repository(target, key, config, k.name);
    }
    throw new WrongPasswordError(`wrong password or no key found for the repository at ${target.location}`);
  }

  /** The master key in the form sent to engine workers. */
  wireKey(): WireKey {
    return { encrypt: this.key.encrypt, macK: this.key.macK, macR: this.key.macR };
  }

  // ---- unpacked files (snapshots, index, locks)

  /** Encrypts and stores a JSON document; returns its storage ID. */
  async saveJSON(type: Exclude<FileType, 'config' | 'data' | 'keys'>, json: string): Promise<Id> {
    const bytes = this.config.version >= 2 ? sealUnpacked(this.key, json) : seal(this.key, Buffer.from(json, 'utf8'));
    const id = sha256hex(bytes);
    await this.target.save({ type, name: id }, bytes);
    return id;
  }

  /** Loads, verifies (storage ID and MAC) and decrypts a JSON document. */
  async loadJSON<T>(type: Exclude<FileType, 'config' | 'data' | 'keys'>, id: Id): Promise<T> {
    const bytes = await loadAll(this.target, { type, name: id });
    const actual = sha256hex(bytes);
    if (actual !== id) throw new Error(`${type}/${id} is damaged: its content hash is ${actual}`);
    return JSON.parse(openUnpacked(this.key, bytes)) as T;
  }

  // ---- index

  /** Loads every index file into the master index (once); `listing`: the index folder's, when the caller has just listed it. */
  async loadIndex(listing?: readonly { name: string }[]): Promise<MasterIndex> {
    if (this.indexLoaded) return this.index;
    const files = listing ?? (await this.target.list('index'));
    await mapLimit(files, 8, async (f) => {
      if (this.index.files.has(f.name)) return;
      this.index.addIndexFile(f.name, await this.loadJSON<IndexJSON>('index', f.name));
    });
    this.indexLoaded = true;
    return this.index;
  }

  /** Writes index files describing `packs`, adds them to the master index, returns the new file IDs. */
  async saveIndex(packs: readonly { id: Id; blobs: readonly PackedBlob[] }[]): Promise<Id[]> {
    const ids: Id[] = [];
    for (const json of encodeIndexFiles(packs)) {
      const id = await this.saveJSON('index', json);
      this.index.files.add(id);
      ids.push(id);
    }
    for (const p of packs) if (!this.index.packs.has(p.id)) this.index.addPack(p.id, p.blobs);
    return ids;
  }

  /** Reads and decrypts the header of a pack file. */
  async loadPackHeader(packId: Id, size?: number): Promise<PackedBlob[]> {
    const h = { type: 'data' as const, name: packId };
    const fileSize = size ?? (await this.target.stat(h)).size;
    if (fileSize < 4 + 32) throw new Error(`pack ${packId} is too short (${fileSize} bytes)`);
    const hlen = await this.target.load(h, 4, fileSize - 4, (b) => b.readUInt32LE(0));
    if (hlen + 4 > fileSize) throw new Error(`pack ${packId}: header length ${hlen} exceeds file size`);
    return this.target.load(h, hlen, fileSize - 4 - hlen, (b) => decodePackHeader(open(this.key, b)));
  }

  /**
   * Finds packs in the repository that no index mentions (left by an
   * interrupted backup), reads their headers and returns them, so a new
   * backup can reuse their blobs instead of uploading them again.
   */
  async findUnindexedPacks(): Promise<{ id: Id; blobs: PackedBlob[] }[]> {
    await this.loadIndex();
    const all = await this.target.list('data');
    const found: { id: Id; blobs: PackedBlob[] }[] = [];
    await mapLimit(
      all.filter((p) => !this.index.packs.has(p.name)),
      8,
      async (p) => {
        try {
          found.push({ id: p.name, blobs: await this.loadPackHeader(p.name, p.size) });
        } catch {
          // A pack whose header cannot be read is left for check/prune to report.
        }
      },
    );
    return found;
  }

  // ---- blobs and trees

  /** Loads, verifies and returns a blob's plaintext. */
  async loadBlob(type: BlobType, id: Id): Promise<Buffer> {
    await this.loadIndex();
    const loc = this.index.get(type, id);
    if (!loc) throw new Error(`${type} blob ${id} is not in the index`);
    return this.target.load({ type: 'data', name: loc.pack }, loc.length, loc.offset, (b) => {
      let plain: Buffer;
      try {
        plain = openBlob(this.key, b, loc.uncompressed_length);
      } catch (e) {
        throw new Error(`${type} blob ${id} in pack ${loc.pack} is damaged (${(e as Error).message})`);
      }
      const actual = sha256hex(plain);
      if (actual !== id) throw new Error(`${type} blob ${id} in pack ${loc.pack} is damaged (content hash ${actual})`);
      return plain;
    });
  }

  /**
   * Loads and decodes a tree. A snapshot walk needs hundreds of trees, which
   * sit together in a few tree-only packs: the first tree needed from such a
   * pack reads all of its trees in one request (one round trip instead of
   * hundreds on SFTP or S3), and the rest come from memory. Each blob is still
   * verified when used.
   */
  async loadTree(id: Id): Promise<Tree> {
    await this.loadIndex();
    const loc = this.index.get('tree', id);
    let plain: Buffer | undefined;
    const sealed = loc ? await this.treePackBlob(loc.pack, id) : undefined;
    if (loc && sealed) {
      try {
        plain = openBlob(this.key, sealed, loc.uncompressed_length);
      } catch (e) {
        throw new Error(`tree blob ${id} in pack ${loc.pack} is damaged (${(e as Error).message})`);
      }
      const actual = sha256hex(plain);
      if (actual !== id) throw new Error(`tree blob ${id} in pack ${loc.pack} is damaged (content hash ${actual})`);
    } else {
      plain = await this.loadBlob('tree', id);
    }
    try {
      return decodeTree(plain.toString('utf8'));
    } catch (e) {
      throw new Error(`tree ${id}: ${(e as Error).message}`);
    }
  }

  /** The sealed tree blob from its pack read whole, or undefined when that pack is not read whole. */
  private async treePackBlob(pack: Id, id: Id): Promise<Buffer | undefined> {
    let read = this.treePacks.get(pack);
    if (!read) {
      const blobs = this.index.packs.get(pack);
      if (!blobs || blobs.length < 2 || blobs.some((b) => b.type !== 'tree')) return undefined;
      let start = Infinity;
      let end = 0;
      for (const b of blobs) {
        start = Math.min(start, b.offset);
        end = Math.max(end, b.offset + b.length);
      }
      if (end - start > TREE_PACK_READ_MAX) return undefined;
      read = this.target
        .load({ type: 'data', name: pack }, end - start, start, (span) => {
          const copy = Buffer.from(span);
          const out = new Map<Id, Buffer>();
          for (const b of blobs) out.set(b.id, copy.subarray(b.offset - start, b.offset - start + b.length));
          return out;
        })
        // A pack that cannot be read whole is read blob by blob, which names the damaged blob.
        .catch(() => undefined);
      this.treePacks.set(pack, read);
      this.treePackSizes.set(pack, end - start);
      this.treePackBytes += end - start;
      for (const [old, size] of this.treePackSizes) {
        if (this.treePackBytes <= TREE_PACK_CACHE_MAX || old === pack) break;
        this.treePacks.delete(old);
        this.treePackSizes.delete(old);
        this.treePackBytes -= size;
      }
    }
    return (await read)?.get(id);
  }

  // ---- snapshots

  /** All snapshots, oldest first. Unreadable snapshot files are reported through `onError` and skipped. */
  async listSnapshots(onError?: (id: Id, e: Error) => void): Promise<Snapshot[]> {
    const files = await this.target.list('snapshots');
    const out: Snapshot[] = [];
    await mapLimit(files, 8, async (f) => {
      try {
        out.push({ ...(await this.loadJSON<SnapshotJSON>('snapshots', f.name)), id: f.name });
      } catch (e) {
        if (onError) onError(f.name, e as Error);
        else throw e;
      }
    });
    return out.sort(compareSnapshots);
  }

  /**
   * Resolves "latest", a full ID or a unique ID prefix to a snapshot.
   * `filter` narrows "latest" (e.g. to a host or set of paths).
   */
  async findSnapshot(ref: string, filter?: (s: Snapshot) => boolean): Promise<Snapshot> {
    const all = await this.listSnapshots();
    if (ref === 'latest') {
      const c = filter ? all.filter(filter) : all;
      const s = c[c.length - 1];
      if (!s) throw new SnapshotNotFoundError(ref);
      return s;
    }
    const matches = all.filter((s) => s.id.startsWith(ref.toLowerCase()));
    if (matches.length === 0) throw new SnapshotNotFoundError(ref);
    if (matches.length > 1) throw new Error(`snapshot prefix ${JSON.stringify(ref)} is ambiguous (${matches.length} snapshots)`);
    return matches[0]!;
  }

  async close(): Promise<void> {
    await this.target.close();
  }
}

/** Orders snapshots by time, then ID. */
export function compareSnapshots(a: Snapshot, b: Snapshot): number {
  const ta = parseGoTime(a.time);
  const tb = parseGoTime(b.time);
  return ta < tb ? -1 : ta > tb ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  });
  await Promise.all(runners);
}
