import { promises as fsp, constants as fsc } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FileType } from '../../../shared/repo/types.js';
import { NotFoundError, TEMPORARY_PREFIX, type FileHandle, type FileInfo, type StorageTarget } from './target.js';

const DIRS: FileType[] = ['data', 'index', 'keys', 'locks', 'snapshots'];

/**
 * A repository in a local folder, which is also how a NAS is used (a mounted
 * SMB/NFS share). Same layout as restic's local backend: data/XX/ID with 256
 * prefix folders. Writes are atomic: temp file in the destination folder,
 * fsync, rename.
 */
export class LocalTarget implements StorageTarget {
  readonly location: string;
  readonly connections: number;

  constructor(readonly root: string, connections = 8) {
    this.location = path.resolve(root);
    this.connections = connections;
  }

  filename(h: FileHandle): string {
    if (h.type === 'config') return path.join(this.location, 'config');
    if (!/^[0-9a-f]{64}$/.test(h.name)) throw new Error(`invalid file name ${JSON.stringify(h.name)} for ${h.type}`);
    if (h.type === 'data') return path.join(this.location, 'data', h.name.slice(0, 2), h.name);
    return path.join(this.location, h.type, h.name);
  }

  async create(): Promise<void> {
    try {
      await fsp.access(path.join(this.location, 'config'));
      throw new Error(`a repository already exists at ${this.location} (config file found)`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await fsp.mkdir(this.location, { recursive: true, mode: 0o700 });
    for (const d of DIRS) await fsp.mkdir(path.join(this.location, d), { recursive: true, mode: 0o700 });
    await Promise.all(
      Array.from({ length: 256 }, (_, i) =>
        fsp.mkdir(path.join(this.location, 'data', i.toString(16).padStart(2, '0')), { recursive: true, mode: 0o700 }),
      ),
    );
  }

  async save(h: FileHandle, data: Uint8Array): Promise<void> {
    const final = this.filename(h);
    const dir = path.dirname(final);
    const tmp = path.join(dir, `${TEMPORARY_PREFIX}${randomBytes(8).toString('hex')}`);
    let fh: fsp.FileHandle | undefined;
    try {
      try {
        fh = await fsp.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        // A prefix folder missing (repository created by a tool that makes them lazily).
        await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
        fh = await fsp.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
      }
      let off = 0;
      while (off < data.length) {
        const { bytesWritten } = await fh.write(data, off, data.length - off);
        off += bytesWritten;
      }
      await fh.sync();
      await fh.close();
      fh = undefined;
      await fsp.rename(tmp, final);
    } catch (e) {
      await fh?.close().catch(() => {});
      await fsp.rm(tmp, { force: true }).catch(() => {});
      throw e;
    }
  }

  async load<T>(h: FileHandle, length: number, offset: number, consume: (data: Buffer) => T | Promise<T>): Promise<T> {
    const file = this.filename(h);
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(file, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(h, this.location);
      throw e;
    }
    try {
      let len = length;
      if (len === 0) len = (await fh.stat()).size - offset;
      const buf = Buffer.allocUnsafe(Math.max(0, len));
      let got = 0;
      while (got < len) {
        const { bytesRead } = await fh.read(buf, got, len - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got < len) throw new Error(`short read of ${h.type}/${h.name}: wanted ${len} bytes at ${offset}, file has ${offset + got}`);
      return await consume(buf);
    } finally {
      await fh.close();
    }
  }

  async stat(h: FileHandle): Promise<FileInfo> {
    try {
      const st = await fsp.stat(this.filename(h));
      return { name: h.name, size: st.size };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(h, this.location);
      throw e;
    }
  }

  async list(type: FileType): Promise<FileInfo[]> {
    const out: FileInfo[] = [];
    const scan = async (dir: string) => {
      let names: string[];
      try {
        names = await fsp.readdir(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw e;
      }
      await Promise.all(
        names
          .filter((n) => /^[0-9a-f]{64}$/.test(n))
          .map(async (n) => {
            const st = await fsp.stat(path.join(dir, n)).catch(() => undefined);
            if (st?.isFile()) out.push({ name: n, size: st.size });
          }),
      );
    };
    if (type === 'data') {
      const base = path.join(this.location, 'data');
      const prefixes = await fsp.readdir(base).catch(() => [] as string[]);
      // The 256 prefix folders are read a few at a time: one by one, a large repository waits on each in turn.
      const folders = prefixes.filter((p) => /^[0-9a-f]{2}$/.test(p));
      let next = 0;
      const reader = async () => {
        for (let i = next++; i < folders.length; i = next++) await scan(path.join(base, folders[i]!));
      };
      await Promise.all(Array.from({ length: Math.min(8, folders.length) }, reader));
    } else if (type !== 'config') {
      await scan(path.join(this.location, type));
    }
    return out;
  }

  async remove(h: FileHandle): Promise<void> {
    try {
      await fsp.unlink(this.filename(h));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(h, this.location);
      throw e;
    }
  }

  async removeLeftovers(olderThan: number): Promise<number> {
    const folders = [this.location, ...DIRS.map((d) => path.join(this.location, d))];
    const prefixes = await fsp.readdir(path.join(this.location, 'data')).catch(() => [] as string[]);
    for (const p of prefixes) if (/^[0-9a-f]{2}$/.test(p)) folders.push(path.join(this.location, 'data', p));
    let removed = 0;
    for (const dir of folders) {
      const names = await fsp.readdir(dir).catch(() => [] as string[]);
      for (const n of names) {
        if (!n.startsWith(TEMPORARY_PREFIX)) continue;
        const file = path.join(dir, n);
        const st = await fsp.lstat(file).catch(() => undefined);
        if (!st?.isFile() || st.mtimeMs >= olderThan) continue;
        await fsp.unlink(file).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'ENOENT') throw e;
        });
        removed++;
      }
    }
    return removed;
  }

  async close(): Promise<void> {}
}
