import { goQuoteInner, goUnquoteInner } from './goquote.js';
import { decodeRawName, encodeRawName, hasRawBytes, wellFormedLength } from './raw-names.js';
import { formatGoTime, parseGoTime } from './gotime.js';
import type { ExtendedAttribute, Tree, TreeNode, NodeType } from './types.js';

/**
 * Encodes a tree the way restic does: Go's encoding/json field order and
 * escaping, names Go-quoted, and a trailing newline. Determinism matters:
 * the tree's blob ID is the SHA-256 of these bytes, so identical directories
 * deduplicate.
 */
export function encodeTree(tree: Tree): string {
  const parts = tree.nodes.map(encodeNode);
  return goEscape(`{"nodes":[${parts.join(',')}]}`) + '\n';
}

function encodeNode(n: TreeNode): string {
  // Build in restic's struct order; omitempty fields are left out when zero.
  const o: Record<string, unknown> = {
    name: goQuoteInner(n.name),
    type: n.type,
  };
  if (n.mode) o.mode = n.mode;
  o.mtime = formatGoTime(n.mtime);
  o.atime = formatGoTime(n.atime);
  o.ctime = formatGoTime(n.ctime);
  o.uid = n.uid;
  o.gid = n.gid;
  if (n.user) o.user = n.user;
  if (n.group) o.group = n.group;
  if (n.inode) o.inode = n.inode;
  if (n.device_id) o.device_id = n.device_id;
  if (n.size) o.size = n.size;
  if (n.links) o.links = n.links;
  let rawTarget: Uint8Array | undefined;
  if (n.linktarget) {
    if (hasRawBytes(n.linktarget)) {
      // A target that is not UTF-8, as restic (0.17 and later) writes it: lossy text, then the bytes.
      rawTarget = encodeRawName(n.linktarget);
      o.linktarget = LOSSY_PLACEHOLDER;
      o.linktarget_raw = base64(rawTarget);
    } else {
      o.linktarget = n.linktarget;
    }
  }
  if (n.extended_attributes?.length) o.extended_attributes = n.extended_attributes.map((a) => ({ name: a.name, value: a.value }));
  if (n.device) o.device = n.device;
  o.content = n.content;
  if (n.subtree) o.subtree = n.subtree;
  if (n.error) o.error = n.error;
  const json = JSON.stringify(o);
  return rawTarget ? json.replace(JSON.stringify(LOSSY_PLACEHOLDER), () => goLossyJSONString(rawTarget)) : json;
}

/** Stands in for a lossy link target until it is spliced in (no path or link target holds a NUL). */
const LOSSY_PLACEHOLDER = '\0lossy link target\0';

/** Go's json.Marshal of a string holding bytes that are not UTF-8: each such byte becomes the escape \ufffd. */
function goLossyJSONString(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const n = wellFormedLength(bytes, i);
    if (n === 0) {
      out += '\\ufffd';
      i++;
    } else {
      out += JSON.stringify(new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes.subarray(i, i + n))).slice(1, -1);
      i += n;
    }
  }
  return `"${out}"`;
}

function base64(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** Go's json.Marshal escapes HTML-significant characters and U+2028/2029. */
function goEscape(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

const NODE_TYPES = new Set<NodeType>(['file', 'dir', 'symlink', 'dev', 'chardev', 'fifo', 'socket', 'irregular']);
/** The node fields TreeNode models; any other (restic's extended_attributes, linktarget_raw, ...) marks the tree `foreignFields`. */
const MODELLED_FIELDS = new Set(['name', 'type', 'mode', 'mtime', 'atime', 'ctime', 'uid', 'gid', 'user', 'group', 'inode', 'device_id', 'size', 'links', 'linktarget', 'linktarget_raw', 'extended_attributes', 'device', 'content', 'subtree', 'error']);

/** Decodes a tree blob's plaintext. Throws with the offending field on malformed input. */
export function decodeTree(text: string): Tree {
  const raw = JSON.parse(text) as { nodes?: unknown };
  if (!raw || typeof raw !== 'object' || !Array.isArray(raw.nodes)) throw new Error('tree: missing "nodes" array');
  let foreignFields = false;
  const nodes = raw.nodes.map((r: Record<string, unknown>, i: number): TreeNode => {
    if (!foreignFields) for (const k in r) if (!MODELLED_FIELDS.has(k)) foreignFields = true;
    if (typeof r.name !== 'string') throw new Error(`tree: node ${i} has no name`);
    const type = r.type as NodeType;
    if (!NODE_TYPES.has(type)) throw new Error(`tree: node ${JSON.stringify(r.name)} has unknown type ${JSON.stringify(r.type)}`);
    const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
    const time = (v: unknown) => (typeof v === 'string' ? parseGoTime(v) : 0n);
    const node: TreeNode = {
      name: goUnquoteInner(r.name),
      type,
      mode: num(r.mode) ?? 0,
      mtime: time(r.mtime),
      atime: time(r.atime),
      ctime: time(r.ctime),
      uid: num(r.uid) ?? 0,
      gid: num(r.gid) ?? 0,
      content: Array.isArray(r.content) ? (r.content as string[]) : null,
    };
    if (typeof r.user === 'string') node.user = r.user;
    if (typeof r.group === 'string') node.group = r.group;
    if (num(r.inode) !== undefined) node.inode = num(r.inode);
    if (num(r.device_id) !== undefined) node.device_id = num(r.device_id);
    if (num(r.size) !== undefined) node.size = num(r.size);
    if (num(r.links) !== undefined) node.links = num(r.links);
    if (typeof r.linktarget === 'string') node.linktarget = r.linktarget;
    if (typeof r.linktarget_raw === 'string') node.linktarget = decodeRawName(fromBase64(r.linktarget_raw));
    if (r.extended_attributes !== undefined && r.extended_attributes !== null) node.extended_attributes = decodeXattrs(r.extended_attributes, r.name);
    if (num(r.device) !== undefined) node.device = num(r.device);
    if (typeof r.subtree === 'string') node.subtree = r.subtree;
    if (typeof r.error === 'string') node.error = r.error;
    return node;
  });
  return foreignFields ? { nodes, foreignFields: true } : { nodes };
}

function decodeXattrs(v: unknown, node: string): ExtendedAttribute[] {
  const bad = () => new Error(`tree: node ${JSON.stringify(node)} has malformed extended_attributes`);
  if (!Array.isArray(v)) throw bad();
  return v.map((a: unknown) => {
    const { name, value } = (a ?? {}) as { name?: unknown; value?: unknown };
    if (typeof name !== 'string' || (value !== null && typeof value !== 'string')) throw bad();
    return { name, value };
  });
}

function fromBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

/**
 * Orders names as Go's sort.Strings does on their UTF-8 bytes (restic sorts a
 * tree's nodes so), without encoding them: UTF-16 code units compare in code
 * point order except that surrogates (U+D800..U+DFFF, the halves of
 * characters above U+FFFF) must sort after U+E000..U+FFFF, so the first
 * differing unit is shifted accordingly (code point order is UTF-8 byte order).
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // A byte that is not UTF-8 (a lone surrogate, see raw-names.ts) compares as that byte: by the bytes themselves.
    if ((isLowSurrogate(x) || isLowSurrogate(y)) && (hasRawBytes(a) || hasRawBytes(b))) return compareBytes(encodeRawName(a), encodeRawName(b));
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

function isLowSurrogate(u: number): boolean {
  return u >= 0xdc00 && u <= 0xdfff;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * Whether two nodes encode to the same bytes in a tree (`encodeTree`): every
 * field equal, a zero number or empty string the same as an absent one (Go's
 * omitempty), content compared blob by blob.
 */
export function sameNode(a: TreeNode, b: TreeNode): boolean {
  if (
    a.name !== b.name ||
    a.type !== b.type ||
    (a.mode || 0) !== (b.mode || 0) ||
    a.mtime !== b.mtime ||
    a.atime !== b.atime ||
    a.ctime !== b.ctime ||
    a.uid !== b.uid ||
    a.gid !== b.gid ||
    (a.user || '') !== (b.user || '') ||
    (a.group || '') !== (b.group || '') ||
    (a.inode || 0) !== (b.inode || 0) ||
    (a.device_id || 0) !== (b.device_id || 0) ||
    (a.size || 0) !== (b.size || 0) ||
    (a.links || 0) !== (b.links || 0) ||
    (a.linktarget || '') !== (b.linktarget || '') ||
    !sameXattrs(a.extended_attributes, b.extended_attributes) ||
    (a.device || 0) !== (b.device || 0) ||
    (a.subtree || '') !== (b.subtree || '') ||
    (a.error || '') !== (b.error || '')
  ) {
    return false;
  }
  const x = a.content;
  const y = b.content;
  if (x === y) return true;
  if (x === null || y === null || x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function sameXattrs(a: ExtendedAttribute[] | undefined, b: ExtendedAttribute[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((e, i) => e.name === y[i]!.name && e.value === y[i]!.value);
}

/**
 * Validates a node name before it is used as a path component on restore: a
 * hostile repository must not be able to escape the restore target. A
 * backslash is an ordinary character on POSIX but a separator on Windows.
 */
export function isSafeNodeName(name: string, opts: { windows?: boolean } = {}): boolean {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) return false;
  return !(opts.windows && (name.includes('\\') || /^[a-zA-Z]:/.test(name)));
}
