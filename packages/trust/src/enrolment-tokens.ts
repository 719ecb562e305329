import { join } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import { assertDeviceId } from './device-id.js';
import { readFileIfExists, withFileLock, writeFileAtomic } from './secure-fs.js';
import { generateToken, hashToken } from './tokens.js';

/** A stored enrolment token (hash only). */
export interface EnrolmentTokenRecord {
  hash: string;
  deviceId: string;
  createdAt: string;
  expiresAt: string;
  usedAt?: string;
}

export interface IssuedEnrolmentToken {
  /** The plaintext token: shown once, never stored. */
  token: string;
  deviceId: string;
  expiresAt: Date;
}

interface TokenFile {
  version: 1;
  tokens: EnrolmentTokenRecord[];
}

/** Location of the enrolment token store inside the data folder. */
export function enrolmentTokensPath(dataDir: string): string {
  return join(dataDir, 'state', 'enrolment-tokens.json');
}

/**
 * One-time, expiring enrolment tokens, file-backed (`<data>/state/enrolment-tokens.json`, 0600,
 * hashes only). Safe to use from the CLI and a running server at the same time (file lock).
 *
 * @example
 * const store = new EnrolmentTokenStore(dataDir);
 * const { token } = await store.issue('press-7', { ttlSeconds: 3600 });
 * await store.consume(token, 'press-7'); // a second consume throws TRUST_ENROL_TOKEN_USED
 */
export class EnrolmentTokenStore {
  readonly path: string;
  private readonly now: () => Date;

  constructor(dataDir: string, opts: { now?: () => Date } = {}) {
    this.path = enrolmentTokensPath(dataDir);
    this.now = opts.now ?? (() => new Date());
  }

  private async read(): Promise<TokenFile> {
    const b = await readFileIfExists(this.path);
    if (!b) return { version: 1, tokens: [] };
    try {
      const f = JSON.parse(b.toString('utf8')) as TokenFile;
      if (!Array.isArray(f.tokens)) throw new Error('no tokens array');
      return f;
    } catch (e) {
      throw new MargoError('IO_ERROR', `${this.path} is not a valid enrolment token store`, {
        cause: e,
        retry: 'never',
      });
    }
  }

  private async write(f: TokenFile): Promise<void> {
    await writeFileAtomic(this.path, JSON.stringify(f, null, 2) + '\n', 0o600);
  }

  /** Issues a token for `deviceId` (default lifetime 24 h). Returns the plaintext once. */
  async issue(deviceId: string, opts: { ttlSeconds?: number } = {}): Promise<IssuedEnrolmentToken> {
    assertDeviceId(deviceId);
    const ttl = opts.ttlSeconds ?? 86_400;
    if (!Number.isFinite(ttl) || ttl <= 0) throw new MargoError('USAGE_ERROR', 'ttlSeconds must be positive');
    const token = generateToken('mge');
    const now = this.now();
    const expiresAt = new Date(now.getTime() + ttl * 1000);
    await withFileLock(this.path, async () => {
      const f = await this.read();
      // drop records that expired more than 30 days ago
      const keepAfter = now.getTime() - 30 * 86_400_000;
      f.tokens = f.tokens.filter((t) => new Date(t.expiresAt).getTime() > keepAfter);
      f.tokens.push({
        hash: hashToken(token),
        deviceId,
        createdAt: now.toISOString(),
        expiresAt: expiresAt.toISOString(),
      });
      await this.write(f);
    });
    return { token, deviceId, expiresAt };
  }

  private checkRecord(f: TokenFile, plaintext: string, deviceId: string): EnrolmentTokenRecord {
    const hash = typeof plaintext === 'string' ? hashToken(plaintext) : '';
    const rec = f.tokens.find((t) => t.hash === hash);
    if (!rec)
      throw new MargoError('TRUST_ENROL_TOKEN_UNKNOWN', 'the enrolment token is unknown', {
        data: { deviceId },
      });
    if (rec.deviceId !== deviceId) {
      throw new MargoError(
        'TRUST_ENROL_TOKEN_WRONG_DEVICE',
        `the enrolment token was not issued for device ${deviceId}`,
        { data: { deviceId } },
      );
    }
    if (rec.usedAt)
      throw new MargoError(
        'TRUST_ENROL_TOKEN_USED',
        `the enrolment token for device ${deviceId} was already used`,
        { data: { deviceId, usedAt: rec.usedAt } },
      );
    if (this.now().getTime() >= new Date(rec.expiresAt).getTime()) {
      throw new MargoError(
        'TRUST_ENROL_TOKEN_EXPIRED',
        `the enrolment token for device ${deviceId} expired at ${rec.expiresAt}`,
        { data: { deviceId, expiresAt: rec.expiresAt } },
      );
    }
    return rec;
  }

  /** Checks a token without using it up (same refusals as consume). */
  async check(plaintext: string, deviceId: string): Promise<EnrolmentTokenRecord> {
    return this.checkRecord(await this.read(), plaintext, deviceId);
  }

  /**
   * Uses up a token: refuses unknown (TRUST_ENROL_TOKEN_UNKNOWN), issued for another device
   * (TRUST_ENROL_TOKEN_WRONG_DEVICE), already used (TRUST_ENROL_TOKEN_USED) or expired
   * (TRUST_ENROL_TOKEN_EXPIRED) tokens. Atomic: of two concurrent calls only one succeeds.
   */
  async consume(plaintext: string, deviceId: string): Promise<EnrolmentTokenRecord> {
    return withFileLock(this.path, async () => {
      const f = await this.read();
      const rec = this.checkRecord(f, plaintext, deviceId);
      rec.usedAt = this.now().toISOString();
      await this.write(f);
      return { ...rec };
    });
  }

  /** Withdraws every unused token of a device (e.g. on revoke). Returns how many. */
  async revokeForDevice(deviceId: string): Promise<number> {
    return withFileLock(this.path, async () => {
      const f = await this.read();
      const before = f.tokens.length;
      f.tokens = f.tokens.filter((t) => t.deviceId !== deviceId || t.usedAt);
      if (f.tokens.length !== before) await this.write(f);
      return before - f.tokens.length;
    });
  }

  /** All records (hashes only). */
  async list(): Promise<EnrolmentTokenRecord[]> {
    return (await this.read()).tokens.map((t) => ({ ...t }));
  }
}
