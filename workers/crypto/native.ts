/**
 * Loader for Lifeboat's own N-API addon (`native/`, target `lifeboat_native`).
 *
 * The addon is built by `npm run build:native` (also run by `npm install`
 * through the `prepare` script) into `<projectRoot>/native/build/Release/`.
 * The project root is found by walking up from this module to the directory
 * whose package.json is named "lifeboat", so the same code works from the
 * sources (`workers/crypto/`) and from the compiled output
 * (`dist/workers/crypto/`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The functions exported by `lifeboat_native.node`. */
export interface NativeBinding {
  /**
   * Raw one-time Poly1305 (RFC 8439). `key` is 32 bytes, r || s; r is clamped
   * inside. Returns the 16-byte tag as a fresh Buffer. Views into larger
   * buffers (non-zero byteOffset) are handled. Synchronous.
   */
  poly1305(key: Uint8Array, msg: Uint8Array): Buffer;
  /**
   * Recomputes the Poly1305 tag of `msg` and compares it with `tag` in
   * constant time. A `tag` that is not 16 bytes long never matches.
   */
  poly1305Verify(key: Uint8Array, msg: Uint8Array, tag: Uint8Array): boolean;
  /** Which limb arithmetic the build selected: "64x64" or "26x5". */
  readonly poly1305Impl: string;
  /**
   * scrypt's ROMix (RFC 7914) on k lanes one after another, in place:
   * `blocks` is k·128·r bytes (k ≥ 1 consecutive lanes), N a power of two.
   * The lanes share one 128·r·N-byte array (huge pages on Linux), so a call
   * pays for that memory once. Runs on the libuv thread pool, so calls made at
   * once run in parallel; the blocks must not be touched until the promise
   * settles. Rejects when the memory cannot be allocated. Absent from addons
   * built before it existed (callers fall back to node:crypto).
   */
  scryptLanes?(blocks: Uint8Array, N: number, r: number): Promise<void>;
  /**
   * One folder's entries ("." and ".." left out) with their lstat metadata and
   * symlink targets, read on the libuv thread pool (POSIX; absent on Windows
   * and from older builds). Never rejects for a file-system error: a folder
   * that cannot be read gives `{ errno }`, an entry that cannot be stat'ed has
   * its errno in its first field.
   */
  scanDir?(path: string | Uint8Array): Promise<NativeDirScan>;
  /**
   * A file's extended attributes (a symlink's own, never its target's) in the
   * layout of `NativeDirScan.xattrs`; undefined when it has none or its file
   * system has none. Synchronous; throws an Error with `errno` (POSIX; absent
   * on Windows and from older builds).
   */
  readXattrs?(path: string | Uint8Array): Buffer | undefined;
  /** Sets one extended attribute on an open descriptor or a path (a symlink not followed). Synchronous; throws an Error with `errno`. */
  setXattr?(target: string | Uint8Array | number, name: string, value: Uint8Array): void;
  /** Creates a FIFO or a device node (`mode`: type bits and permissions; `dev`: the device number). Synchronous; throws an Error with `errno`. */
  mknod?(path: string | Uint8Array, mode: number, dev: number): void;
  /** Sets access and modification times to the nanosecond on a descriptor or a path (a symlink itself). Synchronous; throws an Error with `errno`. */
  setTimes?(target: string | Uint8Array | number, atimeNs: bigint, mtimeNs: bigint): void;
}

/**
 * A folder as `scanDir` read it: `names` is the entries' names joined by NUL
 * (empty for an empty folder); when some name is not valid UTF-8, `rawNames`
 * holds those bytes instead (see shared/repo/raw-names.ts). `stats` holds 14
 * int64 fields per entry, in that order: lstat errno (0: ok), mode, uid, gid,
 * inode, device, links, size, rdev, atime, mtime, ctime (nanoseconds since
 * the epoch), readlink errno, extended-attributes errno. `links[i]` is entry
 * i's symlink target (its bytes when they are not UTF-8), absent for other
 * entries. When some entry has extended
 * attributes, `xattrs` holds every entry's list one after another (per
 * attribute: name, NUL, the value's length as a little-endian uint32, the
 * value) and `xattrEnds[i]` where entry i's ends; both are absent otherwise.
 */
export type NativeDirScan =
  | { errno: number; names?: undefined; rawNames?: undefined; links?: undefined; xattrs?: undefined; xattrEnds?: undefined; stats?: undefined }
  | ({ errno?: undefined; links: (string | Buffer | undefined)[]; xattrs?: Buffer; xattrEnds?: Uint32Array; stats: BigInt64Array } & ({ names: string; rawNames?: undefined } | { names?: undefined; rawNames: Buffer }));

const ADDON_RELATIVE_PATH = path.join('native', 'build', 'Release', 'lifeboat_native.node');

let cachedRoot: string | undefined;
let cachedBinding: NativeBinding | undefined;

/**
 * Absolute path of the Lifeboat project root: the nearest ancestor of this
 * module's directory holding a package.json with `"name": "lifeboat"`.
 * Throws if there is none.
 */
export function projectRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  const start = path.dirname(fileURLToPath(import.meta.url));
  let dir = start;
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    if (existsSync(candidate)) {
      try {
        const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: unknown };
        if (pkg.name === 'lifeboat') {
          cachedRoot = dir;
          return dir;
        }
      } catch {
        // An unreadable or malformed package.json is not ours; keep walking.
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(`cannot find the lifeboat project root (no package.json named "lifeboat" above ${start})`);
    }
    dir = parent;
  }
}

/** Absolute path where the compiled addon is expected. */
export function nativeAddonPath(): string {
  return path.join(projectRoot(), ADDON_RELATIVE_PATH);
}

/**
 * Loads (once) and returns the native addon. Throws an Error telling the user
 * to run `npm run build:native` when the addon has not been built or cannot be
 * loaded (for example after a Node.js upgrade changed the ABI).
 */
export function loadNative(): NativeBinding {
  if (cachedBinding !== undefined) return cachedBinding;
  const file = nativeAddonPath();
  if (!existsSync(file)) {
    throw new Error(
      `Lifeboat's native addon is missing (${file}). Build it with \`npm run build:native\` (or run \`npm install\`).`,
    );
  }
  const require = createRequire(import.meta.url);
  let binding: NativeBinding;
  try {
    binding = require(file) as NativeBinding;
  } catch (err) {
    throw new Error(
      `Lifeboat's native addon at ${file} could not be loaded: ${(err as Error).message}. ` +
        'Rebuild it with `npm run build:native` (or run `npm install`).',
      { cause: err },
    );
  }
  if (typeof binding.poly1305 !== 'function' || typeof binding.poly1305Verify !== 'function') {
    throw new Error(`${file} is not Lifeboat's native addon; rebuild it with \`npm run build:native\`.`);
  }
  cachedBinding = binding;
  return binding;
}
