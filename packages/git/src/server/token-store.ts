import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
  openSync,
  fsyncSync,
  closeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { DEVICE_ID_RULE, isValidDeviceId, MargoError } from '@margo-gitops/spec';

/** viewer: reads fleet.git, catalog.git, the status API and /metrics; pushes nothing. */
export type Role = 'admin' | 'publisher' | 'operator' | 'viewer' | 'device';
export const ROLES: readonly Role[] = ['admin', 'publisher', 'operator', 'viewer', 'device'];

/** The roles that may read the fleet's state: the status API, /metrics and the web console. */
export const FLEET_READER_ROLES: ReadonlySet<string> = new Set<Role>(['admin', 'operator', 'viewer']);

/** One stored token. The token itself is never stored, only its sha256. */
export interface TokenRecord {
  id: string;
  name: string;
  role: Role;
  deviceId?: string;
  /** sha256 of the whole plaintext token, hex. */
  hash: string;
  createdAt: string;
  revoked?: boolean;
  revokedAt?: string;
  /** After this instant the token is refused (set by rotate for the old token). */
  expiresAt?: string;
}

/** A record as handed to callers and validators: without the hash. */
export type TokenInfo = Omit<TokenRecord, 'hash'>;

export interface IssuedToken {
  /** The plaintext token; shown once, never stored. */
  token: string;
  record: TokenInfo;
}

const TOKEN_RE = /^mgt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export function sha256Hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

function publicInfo(r: TokenRecord): TokenInfo {
  const { hash: _hash, ...rest } = r;
  return rest;
}

/**
 * Token records in `<data>/auth/tokens.json` (written atomically, mode 0600). Tokens look like
 * `mgt_<16 hex id>_<43 chars>`; only their sha256 is kept. Changes written by another process (the
 * CLI issuing a token while `margo serve` runs) are picked up within a second.
 *
 * @example
 * const tokens = TokenStore.open('/srv/margo-data/auth/tokens.json');
 * const { token } = tokens.issueToken('device', { deviceId: 'd1', name: 'device d1' });
 * tokens.verify(token)?.role; // 'device'
 */
export class TokenStore {
  readonly file: string;
  private records = new Map<string, TokenRecord>();
  private mtimeMs = -1;
  private checkedAt = 0;
  private readonly now: () => number;

  private constructor(file: string, now: () => number) {
    this.file = file;
    this.now = now;
  }

  /** Opens (or starts) a token file. `now` is injectable for tests. */
  static open(file: string, opts: { now?: () => number } = {}): TokenStore {
    const s = new TokenStore(file, opts.now ?? Date.now);
    s.reload();
    return s;
  }

  /** Re-reads the file (no-op when it does not exist). */
  reload(): void {
    let st;
    try {
      st = statSync(this.file);
    } catch {
      this.records.clear();
      this.mtimeMs = -1;
      return;
    }
    let parsed: { tokens?: TokenRecord[] };
    try {
      parsed = JSON.parse(readFileSync(this.file, 'utf8')) as { tokens?: TokenRecord[] };
    } catch (e) {
      throw new MargoError('IO_ERROR', `cannot read token file ${this.file}`, {
        cause: e,
        hint: 'The file must be JSON written by margo.',
      });
    }
    this.records = new Map((parsed.tokens ?? []).map((r) => [r.id, r]));
    this.mtimeMs = st.mtimeMs;
  }

  private maybeReload(force = false): void {
    const t = this.now();
    if (!force && t - this.checkedAt < 1000) return;
    this.checkedAt = t;
    let m = -1;
    try {
      m = statSync(this.file).mtimeMs;
    } catch {
      /* missing file */
    }
    if (m !== this.mtimeMs) this.reload();
  }

  private save(): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    const body = JSON.stringify({ version: 1, tokens: [...this.records.values()] }, null, 2) + '\n';
    writeFileSync(tmp, body, { mode: 0o600 });
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    this.mtimeMs = statSync(this.file).mtimeMs;
  }

  /** Creates a token and returns its plaintext once. Devices need `deviceId`. */
  issueToken(role: Role, opts: { deviceId?: string; name?: string; expiresAt?: Date } = {}): IssuedToken {
    if (!ROLES.includes(role))
      throw new MargoError('USAGE_ERROR', `unknown role "${role}"`, {
        hint: `Use one of ${ROLES.join(', ')}.`,
      });
    if (role === 'device' && !opts.deviceId)
      throw new MargoError('USAGE_ERROR', 'a device token needs a device id');
    if (opts.deviceId !== undefined && !isValidDeviceId(opts.deviceId)) {
      throw new MargoError('GIT_INVALID_REPO_ID', `invalid device id "${opts.deviceId.slice(0, 80)}"`, {
        hint: DEVICE_ID_RULE,
      });
    }
    this.maybeReload();
    const id = randomBytes(8).toString('hex');
    const token = `mgt_${id}_${randomBytes(32).toString('base64url')}`;
    const rec: TokenRecord = {
      id,
      name: opts.name ?? (role === 'device' ? `device ${opts.deviceId}` : role),
      role,
      ...(opts.deviceId ? { deviceId: opts.deviceId } : {}),
      hash: sha256Hex(token),
      createdAt: new Date(this.now()).toISOString(),
      ...(opts.expiresAt ? { expiresAt: opts.expiresAt.toISOString() } : {}),
    };
    this.records.set(id, rec);
    this.save();
    return { token, record: publicInfo(rec) };
  }

  /** Marks a token revoked at once. */
  revoke(id: string): TokenInfo {
    this.maybeReload();
    const rec = this.records.get(id);
    if (!rec) throw new MargoError('GIT_TOKEN_NOT_FOUND', `no token with id ${id}`);
    rec.revoked = true;
    rec.revokedAt = new Date(this.now()).toISOString();
    this.save();
    return publicInfo(rec);
  }

  /** Issues a replacement with the same role, device and name; the old token stays valid for `graceMs` (default 24 h). */
  rotate(id: string, opts: { graceMs?: number } = {}): IssuedToken {
    this.maybeReload();
    const old = this.records.get(id);
    if (!old || old.revoked) throw new MargoError('GIT_TOKEN_NOT_FOUND', `no active token with id ${id}`);
    const grace = new Date(this.now() + (opts.graceMs ?? 24 * 3600_000)).toISOString();
    if (!old.expiresAt || old.expiresAt > grace) old.expiresAt = grace;
    return this.issueToken(old.role, { name: old.name, ...(old.deviceId ? { deviceId: old.deviceId } : {}) });
  }

  /** Every record, without hashes. */
  list(): TokenInfo[] {
    this.maybeReload();
    return [...this.records.values()].map(publicInfo);
  }

  /** The record for a valid plaintext token, or undefined (unknown, malformed, revoked, expired). Constant-time hash compare. */
  verify(plaintext: string): TokenInfo | undefined {
    this.maybeReload();
    const m = TOKEN_RE.exec(plaintext);
    // A token id this process has not seen may have just been issued by another one (`margo device
    // add` writes the file while `margo serve` runs): look at the file again rather than wait for
    // the next periodic check, so an enrolment right after `device add` is not refused.
    if (m && !this.records.has(m[1]!)) this.maybeReload(true);
    const rec = m ? this.records.get(m[1]!) : undefined;
    const given = Buffer.from(sha256Hex(plaintext), 'hex');
    const stored = Buffer.from(rec?.hash ?? '0'.repeat(64), 'hex');
    const same = stored.length === given.length && timingSafeEqual(stored, given);
    if (!rec || !same || rec.revoked) return undefined;
    if (rec.expiresAt && Date.parse(rec.expiresAt) <= this.now()) return undefined;
    return publicInfo(rec);
  }
}
