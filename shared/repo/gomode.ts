/**
 * restic stores Go's os.FileMode (permission bits plus Go's own type and
 * special bits), not the POSIX st_mode. These convert between the two.
 */

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFIFO = 0o010000;
const S_IFSOCK = 0o140000;
const S_IFBLK = 0o060000;
const S_IFCHR = 0o020000;

/** Go os.FileMode bits (as unsigned numbers: 1<<31 does not fit a signed int32). */
export const GoMode = {
  Dir: 2 ** 31,
  Symlink: 2 ** 27,
  Device: 2 ** 26,
  NamedPipe: 2 ** 25,
  Socket: 2 ** 24,
  Setuid: 2 ** 23,
  Setgid: 2 ** 22,
  CharDevice: 2 ** 21,
  Sticky: 2 ** 20,
} as const;

/** POSIX st_mode to the Go FileMode restic stores. */
export function goModeFromPosix(mode: number): number {
  let go = mode & 0o777;
  if (mode & 0o4000) go += GoMode.Setuid;
  if (mode & 0o2000) go += GoMode.Setgid;
  if (mode & 0o1000) go += GoMode.Sticky;
  switch (mode & S_IFMT) {
    case S_IFDIR: go += GoMode.Dir; break;
    case S_IFLNK: go += GoMode.Symlink; break;
    case S_IFIFO: go += GoMode.NamedPipe; break;
    case S_IFSOCK: go += GoMode.Socket; break;
    case S_IFBLK: go += GoMode.Device; break;
    case S_IFCHR: go += GoMode.Device + GoMode.CharDevice; break;
  }
  return go;
}

/** The permission and special bits (suid, sgid, sticky) of a Go FileMode, as POSIX bits for chmod. */
export function posixPermissionsFromGo(goMode: number): number {
  let p = goMode % 0o1000; // low 9 bits; avoid bit ops on values above 2^31
  const has = (bit: number) => Math.floor(goMode / bit) % 2 === 1;
  if (has(GoMode.Setuid)) p |= 0o4000;
  if (has(GoMode.Setgid)) p |= 0o2000;
  if (has(GoMode.Sticky)) p |= 0o1000;
  return p;
}
