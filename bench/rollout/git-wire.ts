/**
 * A small Git smart-HTTP client (protocol v0, stateless RPC) for simulating thousands of devices in
 * one process: what a device needs and nothing more.
 *   - `refs`: GET info/refs?service=git-upload-pack (one poll);
 *   - `fetchTip`: POST git-upload-pack with `want <oid>` + `deepen 1` + `done`, the pack parsed in
 *     memory (undeltified and REF/OFS delta objects), the tip commit's files returned;
 *   - `pushCommit`: POST git-receive-pack with one ref update and a pack of whole objects.
 * The server does all the real work (git http-backend, upload-pack, receive-pack, its hooks and
 * validation); this only spares the simulator a git process and a repository per device.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { deflateSync, inflateSync } from 'node:zlib';

export const ZERO = '0'.repeat(40);

export interface Remote {
  host: string;
  port: number;
  /** `/git/devices/<id>.git` */
  path: string;
  token: string;
  agent: http.Agent;
}

function pkt(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  return Buffer.concat([Buffer.from((b.length + 4).toString(16).padStart(4, '0')), b]);
}
const FLUSH = Buffer.from('0000');

function request(
  r: Remote,
  method: 'GET' | 'POST',
  path: string,
  body?: Buffer,
  contentType?: string,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: r.host,
        port: r.port,
        agent: r.agent,
        method,
        path,
        headers: {
          authorization: `Bearer ${r.token}`,
          'user-agent': 'git/margo-bench-sim',
          ...(body ? { 'content-type': contentType!, 'content-length': body.length } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.setTimeout(120_000, () => req.destroy(new Error(`${method} ${path}: no answer in 120 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Splits pkt-lines from `pos` until a non-pkt payload starts (returns its offset). */
function* pktLines(buf: Buffer, pos = 0): Generator<{ line: string | null; next: number }> {
  while (pos + 4 <= buf.length) {
    const len = parseInt(buf.toString('latin1', pos, pos + 4), 16);
    if (Number.isNaN(len)) return;
    if (len === 0) {
      pos += 4;
      yield { line: null, next: pos };
      continue;
    }
    const line = buf.toString('utf8', pos + 4, pos + len);
    pos += len;
    yield { line, next: pos };
  }
}

/** The refs the server advertises for fetching (one poll). */
export async function refs(r: Remote): Promise<Map<string, string>> {
  const res = await request(r, 'GET', `${r.path}/info/refs?service=git-upload-pack`);
  if (res.status !== 200) throw new Error(`info/refs ${res.status}: ${res.body.toString().slice(0, 200)}`);
  const out = new Map<string, string>();
  for (const { line } of pktLines(res.body)) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([0-9a-f]{40}) ([^\0\n]+)/.exec(line);
    if (m && m[1] !== ZERO) out.set(m[2]!, m[1]!);
  }
  return out;
}

type ObjType = 'commit' | 'tree' | 'blob' | 'tag';
const TYPES: Record<number, ObjType> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' };
const TYPE_NUM: Record<ObjType, number> = { commit: 1, tree: 2, blob: 3, tag: 4 };

export function hashObject(type: ObjType, content: Buffer): string {
  return createHash('sha1').update(`${type} ${content.length}\0`).update(content).digest('hex');
}

function applyDelta(base: Buffer, delta: Buffer): Buffer {
  let p = 0;
  const varint = (): number => {
    let n = 0;
    let shift = 0;
    let b: number;
    do {
      b = delta[p++]!;
      n += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return n;
  };
  varint(); // base size
  const out = Buffer.alloc(varint());
  let o = 0;
  while (p < delta.length) {
    const op = delta[p++]!;
    if (op & 0x80) {
      let off = 0;
      let size = 0;
      for (let i = 0; i < 4; i++) if (op & (1 << i)) off |= delta[p++]! << (8 * i);
      for (let i = 0; i < 3; i++) if (op & (0x10 << i)) size |= delta[p++]! << (8 * i);
      off >>>= 0;
      if (size === 0) size = 0x10000;
      base.copy(out, o, off, off + size);
      o += size;
    } else if (op) {
      delta.copy(out, o, p, p + op);
      o += op;
      p += op;
    } else throw new Error('bad delta opcode 0');
  }
  return out;
}

/** Parses a pack into oid -> object (deltas resolved against objects of the same pack). */
export function parsePack(pack: Buffer): Map<string, { type: ObjType; content: Buffer }> {
  if (pack.toString('latin1', 0, 4) !== 'PACK') throw new Error('not a pack');
  const count = pack.readUInt32BE(8);
  const byOffset = new Map<number, { type: ObjType; content: Buffer }>();
  const byOid = new Map<string, { type: ObjType; content: Buffer }>();
  const pending: { at: number; base: number | string; delta: Buffer }[] = [];
  let pos = 12;
  for (let i = 0; i < count; i++) {
    const at = pos;
    let b = pack[pos++]!;
    const type = (b >> 4) & 7;
    while (b & 0x80) b = pack[pos++]!; // size: implied by the inflated data
    let base: number | string | undefined;
    if (type === 6) {
      b = pack[pos++]!;
      let off = b & 0x7f;
      while (b & 0x80) {
        b = pack[pos++]!;
        off = ((off + 1) << 7) | (b & 0x7f);
      }
      base = at - off;
    } else if (type === 7) {
      base = pack.toString('hex', pos, pos + 20);
      pos += 20;
    }
    const r = inflateSync(pack.subarray(pos), { info: true }) as unknown as {
      buffer: Buffer;
      engine: { bytesWritten: number };
    };
    pos += r.engine.bytesWritten;
    if (base !== undefined) pending.push({ at, base, delta: r.buffer });
    else {
      const o = { type: TYPES[type]!, content: r.buffer };
      byOffset.set(at, o);
      byOid.set(hashObject(o.type, o.content), o);
    }
  }
  // Resolve deltas (a base may itself be a delta: loop until nothing moves).
  while (pending.length) {
    let moved = false;
    for (let i = pending.length - 1; i >= 0; i--) {
      const d = pending[i]!;
      const base = typeof d.base === 'number' ? byOffset.get(d.base) : byOid.get(d.base);
      if (!base) continue;
      const o = { type: base.type, content: applyDelta(base.content, d.delta) };
      byOffset.set(d.at, o);
      byOid.set(hashObject(o.type, o.content), o);
      pending.splice(i, 1);
      moved = true;
    }
    if (!moved) throw new Error('pack has a delta whose base is not in the pack (thin pack?)');
  }
  return byOid;
}

export interface TreeEntry {
  mode: string;
  name: string;
  oid: string;
}

export function parseTree(content: Buffer): TreeEntry[] {
  const out: TreeEntry[] = [];
  let p = 0;
  while (p < content.length) {
    const sp = content.indexOf(0x20, p);
    const nul = content.indexOf(0, sp);
    out.push({
      mode: content.toString('latin1', p, sp),
      name: content.toString('utf8', sp + 1, nul),
      oid: content.toString('hex', nul + 1, nul + 21),
    });
    p = nul + 21;
  }
  return out;
}

/** Every regular file of commit `oid`, fetched with `deepen 1` (the tip only). */
export async function fetchTip(r: Remote, oid: string): Promise<Map<string, Buffer>> {
  const body = Buffer.concat([
    pkt(`want ${oid} no-progress shallow agent=margo-bench-sim\n`),
    pkt('deepen 1\n'),
    FLUSH,
    pkt('done\n'),
  ]);
  const res = await request(
    r,
    'POST',
    `${r.path}/git-upload-pack`,
    body,
    'application/x-git-upload-pack-request',
  );
  if (res.status !== 200) throw new Error(`upload-pack ${res.status}: ${res.body.toString().slice(0, 200)}`);
  let packAt = -1;
  for (const { line, next } of pktLines(res.body)) {
    if (line === null || line.startsWith('shallow ') || line.startsWith('unshallow ')) continue;
    if (line.startsWith('NAK') || line.startsWith('ACK')) {
      packAt = next;
      break;
    }
    throw new Error(`upload-pack: unexpected "${line.trim().slice(0, 120)}"`);
  }
  if (packAt < 0) throw new Error('upload-pack: no pack in the answer');
  const objects = parsePack(res.body.subarray(packAt));
  const commit = objects.get(oid);
  if (!commit || commit.type !== 'commit') throw new Error(`commit ${oid} not in the pack`);
  const files = new Map<string, Buffer>();
  const walk = (treeOid: string, prefix: string): void => {
    const t = objects.get(treeOid);
    if (!t) throw new Error(`tree ${treeOid} not in the pack`);
    for (const e of parseTree(t.content)) {
      if (e.mode === '40000') walk(e.oid, `${prefix}${e.name}/`);
      else {
        const blob = objects.get(e.oid);
        if (!blob) throw new Error(`blob ${e.oid} not in the pack`);
        files.set(`${prefix}${e.name}`, blob.content);
      }
    }
  };
  walk(/^tree ([0-9a-f]{40})/.exec(commit.content.toString('latin1'))![1]!, '');
  return files;
}

interface PackObject {
  type: ObjType;
  content: Buffer;
}

function treeOf(entries: { mode: string; name: string; oid: string }[]): Buffer {
  // git sorts tree entries by name, a folder as if its name ended in "/"
  const key = (e: { mode: string; name: string }) => (e.mode === '40000' ? `${e.name}/` : e.name);
  entries.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return Buffer.concat(
    entries.map((e) => Buffer.concat([Buffer.from(`${e.mode} ${e.name}\0`), Buffer.from(e.oid, 'hex')])),
  );
}

/** The objects of one commit holding `files` (paths at most one folder deep), and its oid. */
export function commitObjects(
  files: ReadonlyMap<string, Buffer>,
  parent: string | null,
  who: string,
  timeSec: number,
  message: string,
): { oid: string; objects: PackObject[] } {
  const objects: PackObject[] = [];
  const add = (type: ObjType, content: Buffer): string => {
    objects.push({ type, content });
    return hashObject(type, content);
  };
  const root: { mode: string; name: string; oid: string }[] = [];
  const dirs = new Map<string, { mode: string; name: string; oid: string }[]>();
  for (const [path, bytes] of files) {
    const slash = path.indexOf('/');
    const entry = { mode: '100644', name: path.slice(slash + 1), oid: add('blob', bytes) };
    if (slash < 0) root.push(entry);
    else {
      const d = path.slice(0, slash);
      if (!dirs.has(d)) dirs.set(d, []);
      dirs.get(d)!.push(entry);
    }
  }
  for (const [name, entries] of dirs) root.push({ mode: '40000', name, oid: add('tree', treeOf(entries)) });
  const tree = add('tree', treeOf(root));
  const sig = `${who} <${who}@devices.invalid> ${timeSec} +0000`;
  const oid = add(
    'commit',
    Buffer.from(
      `tree ${tree}\n${parent ? `parent ${parent}\n` : ''}author ${sig}\ncommitter ${sig}\n\n${message}`,
    ),
  );
  return { oid, objects };
}

export function packOf(objects: PackObject[]): Buffer {
  const parts: Buffer[] = [Buffer.from('PACK'), Buffer.alloc(8)];
  parts[1]!.writeUInt32BE(2, 0);
  parts[1]!.writeUInt32BE(objects.length, 4);
  for (const o of objects) {
    let size = o.content.length;
    const head = [(TYPE_NUM[o.type] << 4) | (size & 0x0f)];
    size = Math.floor(size / 16);
    while (size > 0) {
      head[head.length - 1]! |= 0x80;
      head.push(size & 0x7f);
      size = Math.floor(size / 128);
    }
    parts.push(Buffer.from(head), deflateSync(o.content, { level: 1 }));
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, createHash('sha1').update(body).digest()]);
}

/** Pushes `objects` and moves `ref` from `old` to `oid` (refused or failed: throws). */
export async function pushCommit(
  r: Remote,
  ref: string,
  old: string | null,
  oid: string,
  objects: PackObject[],
): Promise<void> {
  const body = Buffer.concat([
    pkt(`${old ?? ZERO} ${oid} ${ref}\0report-status agent=margo-bench-sim\n`),
    FLUSH,
    packOf(objects),
  ]);
  const res = await request(
    r,
    'POST',
    `${r.path}/git-receive-pack`,
    body,
    'application/x-git-receive-pack-request',
  );
  const text = res.body.toString('utf8');
  if (res.status !== 200 || !text.includes('unpack ok') || !text.includes(`ok ${ref}`))
    throw new Error(`receive-pack ${res.status}: ${text.replace(/[\0-\x1f]+/g, ' ').slice(0, 300)}`);
}
