/**
 * `margo device add ID --svid-out DIR`: an X.509-SVID for a device whose client is not our agent
 * (the rc.2 API has no onboarding call). Runs on the server machine (it needs the root CA key).
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import { issueDeviceSvid, loadPki, readSpiffeIdentity, removeDeviceCert } from '@margo-gitops/trust';

export const SVID_OUT_FILES = { cert: 'svid.pem', key: 'svid.key', bundle: 'bundle.pem' } as const;

export interface WrittenSvid {
  dir: string;
  spiffeId: string;
  notAfter: string;
}

/** Refuses (USAGE_ERROR) to overwrite an SVID already in `dir`. */
export async function checkSvidOut(dir: string): Promise<void> {
  for (const f of Object.values(SVID_OUT_FILES)) {
    if (
      await stat(join(dir, f)).then(
        () => true,
        () => false,
      )
    )
      throw new MargoError('USAGE_ERROR', `${join(dir, f)} exists; --svid-out will not overwrite it`, {
        hint: 'Choose an empty folder.',
      });
  }
}

/**
 * Issues the SVID (stored under pki/devices/ like an enrolled certificate, so `margo device revoke`
 * ends it) and writes DIR/svid.pem, DIR/svid.key (0600) and DIR/bundle.pem (the root CA). `commit`
 * runs between issuing and writing; when it fails the stored certificate is removed again.
 */
export async function issueSvidOut(
  dataDir: string,
  deviceId: string,
  dir: string,
  commit: () => Promise<void>,
): Promise<WrittenSvid> {
  await checkSvidOut(dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pki = await loadPki(join(dataDir, 'pki'));
  const svid = await issueDeviceSvid(pki, await readSpiffeIdentity(pki.dir, pki.ca.certPem), deviceId);
  try {
    await commit();
  } catch (e) {
    await removeDeviceCert(pki.dir, deviceId);
    throw e;
  }
  await writeFile(join(dir, SVID_OUT_FILES.key), svid.keyPem, { mode: 0o600, flag: 'wx' });
  await writeFile(join(dir, SVID_OUT_FILES.cert), svid.certPem, { mode: 0o644, flag: 'wx' });
  await writeFile(join(dir, SVID_OUT_FILES.bundle), pki.ca.certPem, { mode: 0o644, flag: 'wx' });
  return {
    dir,
    spiffeId: svid.spiffeId,
    notAfter: new Date(new X509Certificate(svid.certPem).validTo).toISOString(),
  };
}
