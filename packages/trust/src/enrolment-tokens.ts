import { join } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import { assertDeviceId } from './device-id.js';
import { readFileIfExists, withFileLock, writeFileAtomic } from './secure-fs.js';
import {
  enrolmentProofKey,
  enrolmentProofMatches,
  formatEnrolmentString,
  newEnrolmentSecret,
  normaliseFingerprint,
} from './enrolment-proof.js';
import { caFingerprint } from './pki-store.js';

/**
 * A stored enrolment token. `key` is the token's proof key (HKDF of the secret, see
 * enrolment-proof.ts); the secret itself is never stored. Records of the old bearer form hold a
 * `hash` instead of `id`/`key`: they are kept for listing and revocation but never accepted.
 */
export interface EnrolmentTokenRecord {
  /** Public token id (the request names it). */
  id?: string;
  /** base64url HMAC key derived from the secret (0600 file; see the class comment). */
  key?: string;
  /** Old bearer tokens only (SHA-256 of the token); never accepted any more. */
  hash?: string;
  deviceId: string;
  createdAt: string;
  expiresAt: string;
  usedAt?: string;
}

export interface IssuedEnrolmentToken {
  /** The enrolment string `mge1.<deviceId>.<tokenId>.<secret>.<caFp>`: shown once, never stored. */
  enrolment: string;
  tokenId: string;
  deviceId: string;
  /** SHA-256 of the root CA (hex) the string pins. */
  caFingerprint: string;
  expiresAt: Date;
}

/** What a device sends to prove it holds a token: the token id and a MAC of its exact CSR. */
export interface EnrolmentProofRequest {
  tokenId: string;
  deviceId: string;
  /** The CSR PEM exactly as sent. */
  csr: string;
  /** base64url HMAC-SHA256 (enrolmentProof). */
  proof: string;
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
 * One-time, expiring enrolment tokens, file-backed (`<data>/state/enrolment-tokens.json`, 0600).
 * Safe to use from the CLI and a running server at the same time (file lock).
 *
 * What is stored, and why: the device never sends its secret, only an HMAC of its CSR keyed by
 * the secret, so the server must hold something that can check a MAC: a key derived from the
 * secret with HKDF (the secret itself cannot be recovered from it). The trade-off against the
 * SHA-256 hashes stored before: whoever reads this file can forge a proof for a token that is
 * still unused and unexpired (24 h by default), where a hash did not allow that. The file sits
 * (0600) in the same data folder as the CA and signing keys, whose reader already controls every
 * device, so this adds no new power to that reader; and in exchange, a proxy or log that sees an
 * enrolment request can no longer replay it with its own key.
 *
 * @example
 * const store = new EnrolmentTokenStore(dataDir);
 * const { enrolment } = await store.issue('press-7', { ttlSeconds: 3600 }); // give to the device
 * await store.consume({ tokenId, deviceId: 'press-7', csr, proof }); // a second consume: TRUST_ENROL_TOKEN_USED
 */
export class EnrolmentTokenStore {
  readonly path: string;
  private readonly now: () => Date;

  constructor(
    private readonly dataDir: string,
    opts: { now?: () => Date } = {},
  ) {
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

  /**
   * Issues a token for `deviceId` (default lifetime 24 h) and returns its enrolment string once.
   * `caFingerprint` (hex) defaults to the root CA of `<dataDir>/pki`.
   */
  async issue(
    deviceId: string,
    opts: { ttlSeconds?: number; caFingerprint?: string } = {},
  ): Promise<IssuedEnrolmentToken> {
    assertDeviceId(deviceId);
    const ttl = opts.ttlSeconds ?? 86_400;
    if (!Number.isFinite(ttl) || ttl <= 0) throw new MargoError('USAGE_ERROR', 'ttlSeconds must be positive');
    const fp = normaliseFingerprint(opts.caFingerprint ?? (await caFingerprint(join(this.dataDir, 'pki'))));
    const { tokenId, secret } = newEnrolmentSecret();
    const now = this.now();
    const expiresAt = new Date(now.getTime() + ttl * 1000);
    await withFileLock(this.path, async () => {
      const f = await this.read();
      // drop records that expired more than 30 days ago
      const keepAfter = now.getTime() - 30 * 86_400_000;
      f.tokens = f.tokens.filter((t) => new Date(t.expiresAt).getTime() > keepAfter);
      f.tokens.push({
        id: tokenId,
        key: enrolmentProofKey(secret, tokenId).toString('base64url'),
        deviceId,
        createdAt: now.toISOString(),
        expiresAt: expiresAt.toISOString(),
      });
      await this.write(f);
    });
    return {
      enrolment: formatEnrolmentString({ deviceId, tokenId, secret, caFingerprint: fp }),
      tokenId,
      deviceId,
      caFingerprint: fp,
      expiresAt,
    };
  }

  /**
   * The proof is checked before anything about the token's state is said, so that a sender who
   * does not hold the secret learns only whether the token id exists. A wrong proof does not use
   * the token up: the token id travels in clear, and burning the token on a bad proof would let
   * anyone who saw it (a proxy) lock the real device out; guessing the 256-bit secret online is
   * hopeless, and the onboarding handler rate-limits refused requests.
   */
  private checkRecord(f: TokenFile, p: EnrolmentProofRequest): EnrolmentTokenRecord {
    const deviceId = p.deviceId;
    const rec =
      typeof p.tokenId === 'string'
        ? f.tokens.find((t) => t.id !== undefined && t.id === p.tokenId)
        : undefined;
    if (!rec || !rec.key)
      throw new MargoError('TRUST_ENROL_TOKEN_UNKNOWN', 'the enrolment token is unknown', {
        data: { deviceId },
      });
    if (!enrolmentProofMatches(Buffer.from(rec.key, 'base64url'), p, p.proof)) {
      throw new MargoError(
        'TRUST_ENROL_PROOF_INVALID',
        `the enrolment proof for device ${deviceId} does not match its certificate request`,
        { data: { deviceId } },
      );
    }
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

  /** Checks a proof without using the token up (same refusals as consume). */
  async check(p: EnrolmentProofRequest): Promise<EnrolmentTokenRecord> {
    return redact(this.checkRecord(await this.read(), p));
  }

  /**
   * Uses up a token after checking the proof: refuses unknown (TRUST_ENROL_TOKEN_UNKNOWN), a proof
   * that does not match (TRUST_ENROL_PROOF_INVALID), issued for another device
   * (TRUST_ENROL_TOKEN_WRONG_DEVICE), already used (TRUST_ENROL_TOKEN_USED) or expired
   * (TRUST_ENROL_TOKEN_EXPIRED) tokens. Atomic: of two concurrent calls only one succeeds.
   */
  async consume(p: EnrolmentProofRequest): Promise<EnrolmentTokenRecord> {
    return withFileLock(this.path, async () => {
      const f = await this.read();
      const rec = this.checkRecord(f, p);
      rec.usedAt = this.now().toISOString();
      await this.write(f);
      return redact(rec);
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

  /** All records, without their keys. */
  async list(): Promise<EnrolmentTokenRecord[]> {
    return (await this.read()).tokens.map(redact);
  }
}

function redact(t: EnrolmentTokenRecord): EnrolmentTokenRecord {
  const { key: _key, ...rest } = t;
  return rest;
}
