import { join } from 'node:path';
import { ClientCredentialStore } from './client-credentials.js';
import { EnrolmentTokenStore } from './enrolment-tokens.js';
import { RevocationList, type RevokedEntry } from './revocation.js';

/**
 * The trust half of `margo device revoke ID`: revokes the device certificate (pki/revoked.json),
 * its OAuth2 clients (their access tokens die at once) and withdraws unused enrolment tokens. The
 * caller also revokes the device's Git tokens (git TokenStore). The certificate file and the
 * repository stay for audit.
 *
 * @example
 * const r = await revokeDeviceCredentials(dataDir, 'press-7', { reason: 'stolen' });
 */
export async function revokeDeviceCredentials(
  dataDir: string,
  deviceId: string,
  opts: { reason?: string; now?: Date } = {},
): Promise<{ certificate: RevokedEntry; clientsRevoked: number; enrolmentTokensWithdrawn: number }> {
  const certificate = await new RevocationList(join(dataDir, 'pki')).revokeDevice(
    deviceId,
    opts.reason,
    opts.now,
  );
  const clientsRevoked = await new ClientCredentialStore(dataDir).revokeDevice(deviceId);
  const enrolmentTokensWithdrawn = await new EnrolmentTokenStore(dataDir).revokeForDevice(deviceId);
  return { certificate, clientsRevoked, enrolmentTokensWithdrawn };
}
