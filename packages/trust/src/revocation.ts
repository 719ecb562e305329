import { join } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import { readDeviceCert, PKI_FILES } from './pki-store.js';
import { readFileIfExists, withFileLock, writeFileAtomic } from './secure-fs.js';
import { normaliseSerial, parseCertificate, serialOf, subjectField } from './x509.js';

export interface RevokedEntry {
  serial: string;
  deviceId: string;
  revokedAt: string;
  reason?: string;
}

interface RevokedFile {
  version: 1;
  revoked: RevokedEntry[];
}

/**
 * The persisted list of revoked device certificate serials (`<data>/pki/revoked.json`). Read it
 * on every check (it is small) so a revocation by the CLI takes effect in a running server at once.
 *
 * @example
 * const rl = new RevocationList(join(data, 'pki'));
 * await rl.revokeDevice('press-7', 'stolen');
 * verifyDeviceCert(ca, cert, { revoked: await rl.serials() });
 */
export class RevocationList {
  readonly path: string;
  constructor(pkiDir: string) {
    this.path = join(pkiDir, PKI_FILES.revoked);
  }

  private async read(): Promise<RevokedFile> {
    const b = await readFileIfExists(this.path);
    if (!b) return { version: 1, revoked: [] };
    try {
      const f = JSON.parse(b.toString('utf8')) as RevokedFile;
      if (!Array.isArray(f.revoked)) throw new Error('no revoked array');
      return f;
    } catch (e) {
      throw new MargoError('IO_ERROR', `${this.path} is not a valid revocation list`, {
        cause: e,
        retry: 'never',
      });
    }
  }

  /** All entries. */
  async list(): Promise<RevokedEntry[]> {
    return (await this.read()).revoked;
  }

  /** Revoked serials (lower-case hex, no leading zeros) for verifyDeviceCert / verifyPayload. */
  async serials(): Promise<Set<string>> {
    return new Set((await this.read()).revoked.map((e) => e.serial));
  }

  async isRevoked(serial: string): Promise<boolean> {
    return (await this.serials()).has(normaliseSerial(serial));
  }

  /** Adds a certificate to the list (idempotent). */
  async revokeCertificate(certPem: string, reason?: string, now = new Date()): Promise<RevokedEntry> {
    const cert = parseCertificate(certPem);
    const entry: RevokedEntry = {
      serial: serialOf(cert),
      deviceId: subjectField(cert, 'CN') ?? '',
      revokedAt: now.toISOString(),
      ...(reason ? { reason } : {}),
    };
    return withFileLock(this.path, async () => {
      const f = await this.read();
      const found = f.revoked.find((e) => e.serial === entry.serial);
      if (found) return found;
      f.revoked.push(entry);
      await writeFileAtomic(this.path, JSON.stringify(f, null, 2) + '\n', 0o600);
      return entry;
    });
  }

  /** Revokes the stored certificate of an enrolled device (`margo device revoke ID`). */
  async revokeDevice(deviceId: string, reason?: string, now = new Date()): Promise<RevokedEntry> {
    const pem = await readDeviceCert(join(this.path, '..'), deviceId);
    if (!pem)
      throw new MargoError('TRUST_PKI_MISSING', `device ${deviceId} has no certificate to revoke`, {
        data: { deviceId },
      });
    return this.revokeCertificate(pem, reason, now);
  }
}
