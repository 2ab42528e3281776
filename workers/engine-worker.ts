/**
 * Entry point of an engine worker thread: the CPU-heavy half of every long
 * operation (chunking, hashing, compression, encryption, packing, and their
 * inverses for restore and check). The main thread only coordinates.
 */
import { parentPort } from 'node:worker_threads';
import { closeSync, constants as fsc, fchmodSync, fchownSync, fstatSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Chunker, CHUNK_MAX_SIZE, parsePolynomial } from '../shared/chunker/index.js';
import { bytesToHex, decodePackHeader, type PackedBlob } from '../shared/repo/pack.js';
import { open, type MasterKey } from './crypto/crypto.js';
import { BlobScratch, type CompressionMode } from './engine/blob.js';
import { KnownBlobSet } from './engine/known-set.js';
import { PackBufferSupply } from './engine/pack-buffers.js';
import { PackBuilder, packBufferSize, type BuiltPack } from './engine/pack-builder.js';
import { DEFAULT_PACK_SIZE } from './engine/pack-writer.js';
import { fsPath } from './engine/fs-path.js';
import { restoreXattrs } from './engine/xattrs.js';
import { setTimesSync } from './engine/file-times.js';
import type {
  BackupFilesReply,
  BackupFilesRequest,
  BackupFileResult,
  EngineReply,
  EngineRequest,
  PacksMessage,
  RestoreBlobsRequest,
  RestoreBlobsReply,
  VerifyPackRequest,
  VerifyPackReply,
  WirePack,
} from './engine-messages.js';

const port = parentPort;
if (!port) throw new Error('engine-worker must run in a worker thread');

interface State {
  key: MasterKey;
  chunker?: Chunker;
  known?: KnownBlobSet;
  packs?: PackBuilder;
  /** This worker's pack-buffer budget (backups through an exchange). */
  packBuffers?: { index: number; supply: PackBufferSupply };
  compression: CompressionMode;
}
let state: State | undefined;
const scratch = new BlobScratch();

/**
 * Files are read READ_SIZE bytes at a time into one reused buffer with room
 * for a maximal chunk behind the read. The unfinished chunk is moved to the
 * front once a read's worth has been consumed, so for ordinary chunk sizes
 * only the first few MiB of the buffer are ever touched (resident).
 */
const READ_SIZE = 1024 * 1024;
let readBuf: Buffer | undefined;
const PROGRESS_EVERY = 4 * 1024 * 1024;

function wirePacks(packs: BuiltPack[], transfer: ArrayBuffer[]): WirePack[] {
  const owner = state?.packBuffers;
  return packs.map((p) => {
    transfer.push(p.buffer);
    const wire: WirePack = { id: p.id, bytes: p.buffer, length: p.length, blobs: p.blobs };
    // Only buffers of the budget go back to this worker; a one-off (oversized) buffer is left to the GC.
    if (owner && state?.packs && p.buffer.byteLength === state.packs.bufferSize) wire.owner = owner.index;
    return wire;
  });
}

/** Sends finished packs to the main thread at once: their buffers come back for the next packs while the task goes on. */
function sendPacks(taskId: number, packs: BuiltPack[]): void {
  if (packs.length === 0) return;
  const transfer: ArrayBuffer[] = [];
  const msg: PacksMessage = { kind: 'packs', taskId, packs: wirePacks(packs, transfer) };
  port!.postMessage(msg, transfer);
}

function backupFiles(req: BackupFilesRequest): BackupFilesReply {
  const s = state!;
  if (!s.chunker || !s.known || !s.packs) throw new Error('worker not initialised for backup');
  const chunker = s.chunker;
  const known = s.known;
  const builder = s.packs;
  readBuf ??= Buffer.allocUnsafe(CHUNK_MAX_SIZE + READ_SIZE);
  const buf = readBuf;
  const files: BackupFileResult[] = [];
  let bytesAdded = 0;
  let bytesStored = 0;
  let blobsAdded = 0;
  let sinceProgress = 0;

  const storeChunk = (chunk: Buffer, content: string[]) => {
    const digest = createHash('sha256').update(chunk).digest();
    const id = bytesToHex(digest);
    content.push(id);
    if (!known.claim(digest)) return;
    const r = builder.add(id, chunk);
    bytesAdded += chunk.length;
    bytesStored += r.stored;
    blobsAdded++;
    sendPacks(req.taskId, r.packs);
  };

  for (const f of req.files) {
    let fd = -1;
    let total = 0;
    const content: string[] = [];
    try {
      // O_NONBLOCK: a FIFO put in the file's place since the scan must not hang the backup (fstat refuses it next).
      fd = openSync(fsPath(f.path), fsc.O_RDONLY | (fsc.O_NOFOLLOW ?? 0) | (fsc.O_NONBLOCK ?? 0));
      if (!fstatSync(fd).isFile()) throw new Error('not a regular file any more');
      chunker.reset();
      let start = 0; // start of the current chunk in buf
      let end = 0; // bytes of buf filled
      for (;;) {
        if (start > 0 && (start >= READ_SIZE || buf.length - end < READ_SIZE)) {
          buf.copy(buf, 0, start, end);
          end -= start;
          start = 0;
        }
        const room = Math.min(READ_SIZE, buf.length - end);
        // Cannot happen (a chunk never exceeds CHUNK_MAX_SIZE); a zero-length read would look like the end of the file.
        if (room <= 0) throw new Error('internal error: read buffer full');
        const n = readSync(fd, buf, end, room, null);
        if (n === 0) break;
        const cuts = chunker.scan(buf.subarray(end, end + n));
        for (const cut of cuts) {
          storeChunk(buf.subarray(start, end + cut), content);
          start = end + cut;
        }
        end += n;
        total += n;
        sinceProgress += n;
        if (sinceProgress >= PROGRESS_EVERY) {
          port!.postMessage({ kind: 'progress', taskId: req.taskId, bytes: sinceProgress, path: f.path });
          sinceProgress = 0;
        }
      }
      if (end > start) storeChunk(buf.subarray(start, end), content);
      files.push({ index: f.index, content, size: total });
    } catch (e) {
      files.push({ index: f.index, size: total, error: (e as Error).message });
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  }
  if (sinceProgress > 0) port!.postMessage({ kind: 'progress', taskId: req.taskId, bytes: sinceProgress });
  return { kind: 'backup-files', taskId: req.taskId, files, bytesAdded, bytesStored, blobsAdded };
}

const CREATE_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | (fsc.O_NOFOLLOW ?? 0);

/**
 * Creates a new file to restore into. Whatever is in its place (a file of an
 * earlier restore, another name of a hard-linked file, a device node, a FIFO,
 * a symlink, a folder) is removed first, never opened: writing into it would
 * write through to what it stands for.
 */
function createFile(path: string): number {
  const at = fsPath(path);
  try {
    return openSync(at, CREATE_FLAGS, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    rmSync(at, { recursive: true, force: true });
    return openSync(at, CREATE_FLAGS, 0o600);
  }
}

/** Opens a file restore created earlier (a large one, written by several tasks); anything else in its place is refused. */
function openCreated(path: string): number {
  const fd = openSync(fsPath(path), fsc.O_WRONLY | (fsc.O_NOFOLLOW ?? 0) | (fsc.O_NONBLOCK ?? 0));
  const st = fstatSync(fd);
  if (!st.isFile() || st.nlink !== 1) {
    closeSync(fd);
    throw new Error('not the file the restore created: something else took its place meanwhile');
  }
  return fd;
}

function restoreBlobs(req: RestoreBlobsRequest): RestoreBlobsReply {
  const s = state!;
  let bytesWritten = 0;
  const errors: RestoreBlobsReply['errors'] = [];
  const metadataErrors: RestoreBlobsReply['metadataErrors'] = [];
  const owned = new Map((req.files ?? []).map((f) => [f.path, f]));
  const failed = new Set<string>();
  const uncreatable = new Set<string>();
  // Blobs arrive in pack order; a file's blobs are often neighbours, so its descriptor is kept for the task.
  const fds = new Map<string, number>();
  // Regions already decrypted in place (a blob two files share may appear twice in one read).
  const decrypted = new Map<ArrayBuffer, Set<number>>();
  try {
    for (const item of req.items) {
      if (uncreatable.has(item.path)) {
        errors.push({ path: item.path, id: item.id, message: 'not written: the file could not be created' });
        continue;
      }
      let fd = fds.get(item.path);
      if (fd === undefined) {
        try {
          // O_NOFOLLOW: never write through a symlink planted where a file should be.
          fd = owned.has(item.path) ? createFile(item.path) : openCreated(item.path);
        } catch (e) {
          failed.add(item.path);
          if (owned.has(item.path)) uncreatable.add(item.path);
          errors.push({ path: item.path, id: item.id, message: (e as Error).message });
          continue;
        }
        fds.set(item.path, fd);
      }
      try {
        // The read data is this task's to use up: blobs are decrypted where they lie.
        let opened = decrypted.get(item.stored);
        if (!opened) decrypted.set(item.stored, (opened = new Set()));
        const region = new Uint8Array(item.stored, item.storedOffset, item.storedLength);
        const plain = scratch.openBlobInPlace(s.key, region, item.uncompressedLength, opened.has(item.storedOffset));
        opened.add(item.storedOffset);
        const id = createHash('sha256').update(plain).digest('hex');
        if (id !== item.id) throw new Error(`blob content does not match its ID (got ${id})`);
        let off = 0;
        while (off < plain.length) off += writeSync(fd, plain, off, plain.length - off, item.fileOffset + off);
        bytesWritten += plain.length;
      } catch (e) {
        failed.add(item.path);
        errors.push({ path: item.path, id: item.id, message: (e as Error).message });
      }
    }
    // Metadata of the files this task completed, on their open descriptors; times last.
    for (const f of owned.values()) {
      const fd = fds.get(f.path);
      if (fd === undefined || failed.has(f.path)) continue;
      try {
        if (f.uid !== undefined && f.gid !== undefined) {
          try {
            fchownSync(fd, f.uid, f.gid);
          } catch {
            // As restic: ownership is best effort.
          }
        }
        for (const message of restoreXattrs(fd, f.xattrs)) metadataErrors.push({ path: f.path, message });
        fchmodSync(fd, f.mode);
        setTimesSync(fd, f.atimeNs, f.mtimeNs);
      } catch (e) {
        metadataErrors.push({ path: f.path, message: (e as Error).message });
      }
    }
  } finally {
    for (const fd of fds.values()) closeSync(fd);
  }
  return { kind: 'restore-blobs', taskId: req.taskId, bytesWritten, errors, metadataErrors };
}

function verifyPack(req: VerifyPackRequest): VerifyPackReply {
  const s = state!;
  const bytes = Buffer.from(req.bytes);
  const errors: string[] = [];
  const where = `pack ${req.packId}`;
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== req.packId) errors.push(`${where}: content hash is ${actual}, file is damaged`);
  let header: PackedBlob[] = [];
  try {
    if (bytes.length < 4) throw new Error('file too short for a pack');
    const hlen = bytes.readUInt32LE(bytes.length - 4);
    if (hlen + 4 > bytes.length) throw new Error(`header length ${hlen} exceeds file size ${bytes.length}`);
    header = decodePackHeader(open(s.key, bytes.subarray(bytes.length - 4 - hlen, bytes.length - 4)));
    const blobsEnd = header.reduce((n, b) => n + b.length, 0);
    if (blobsEnd + hlen + 4 !== bytes.length) errors.push(`${where}: header describes ${blobsEnd} bytes of blobs, file holds ${bytes.length - hlen - 4}`);
  } catch (e) {
    errors.push(`${where}: header unreadable: ${(e as Error).message}`);
  }
  const byId = new Map(header.map((b) => [b.id, b]));
  for (const want of req.indexed) {
    const got = byId.get(want.id);
    if (!got || got.offset !== want.offset || got.length !== want.length) {
      errors.push(`${where}: blob ${want.id} is in the index but not at that place in the pack header`);
    }
  }
  for (const b of header) {
    try {
      if (b.offset + b.length > bytes.length) throw new Error('extends past end of pack');
      const plain = scratch.openBlobInto(s.key, bytes.subarray(b.offset, b.offset + b.length), b.uncompressedLength);
      const id = createHash('sha256').update(plain).digest('hex');
      if (id !== b.id) throw new Error(`content hash is ${id}`);
    } catch (e) {
      errors.push(`${where}: ${b.type} blob ${b.id} at offset ${b.offset}: ${(e as Error).message}`);
    }
  }
  return { kind: 'verify-pack', taskId: req.taskId, packId: req.packId, errors, blobs: header.length };
}

port.on('message', (req: EngineRequest) => {
  try {
    let reply: EngineReply;
    const transfer: ArrayBuffer[] = [];
    switch (req.kind) {
      case 'init': {
        const key: MasterKey = { encrypt: Buffer.from(req.key.encrypt), macK: Buffer.from(req.key.macK), macR: Buffer.from(req.key.macR) };
        const compression = req.compression ?? 'auto';
        state = { key, compression };
        if (req.polynomial) state.chunker = new Chunker(parsePolynomial(req.polynomial));
        if (req.knownSet) state.known = new KnownBlobSet(req.knownSet);
        if (req.polynomial) {
          const packSize = req.packSize ?? DEFAULT_PACK_SIZE;
          const supply = req.packBuffers ? new PackBufferSupply(req.packBuffers, packBufferSize(packSize)) : undefined;
          if (supply) state.packBuffers = { index: req.packBuffers!.index, supply };
          state.packs = new PackBuilder(key, 'data', packSize, compression, 2, supply ? () => supply.take() : undefined);
        }
        reply = { kind: 'init', taskId: req.taskId };
        break;
      }
      case 'backup-files':
        reply = backupFiles(req);
        break;
      case 'flush': {
        const p = state?.packs?.finish();
        reply = { kind: 'flush', taskId: req.taskId, packs: wirePacks(p ? [p] : [], transfer) };
        break;
      }
      case 'restore-blobs':
        reply = restoreBlobs(req);
        break;
      case 'verify-pack':
        reply = verifyPack(req);
        break;
      default:
        throw new Error(`unknown request ${(req as { kind: string }).kind}`);
    }
    port.postMessage(reply, transfer);
  } catch (e) {
    const err = e as Error;
    port.postMessage({ kind: 'failed', taskId: req.taskId, message: err.message, stack: err.stack });
  }
});
