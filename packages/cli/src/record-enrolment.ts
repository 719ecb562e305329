import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { certificateFingerprint, readDeviceCert } from '@margo-gitops/trust';
import { devicePath, fromYaml, toYaml, type DeviceDoc } from './fleet-docs.js';
import { commitChange, DEFAULT_PUSH_ATTEMPTS } from './git-remote.js';

/**
 * Records an enrolment in the fleet repository: `enrolment.enrolledAt` and the certificate's
 * fingerprint in `devices/<id>.yaml`, as one commit by the server (so `margo device show` and Git
 * history say when and with which certificate a device joined). Returns the commit, or undefined
 * when the device has no fleet document (nothing is invented) or nothing changed.
 */
export async function recordEnrolment(
  dataDir: string,
  deviceId: string,
  now: () => Date = () => new Date(),
): Promise<string | undefined> {
  const cert = await readDeviceCert(join(dataDir, 'pki'), deviceId);
  if (!cert) return undefined;
  const fingerprint = `sha256:${certificateFingerprint(cert)}`;
  const res = await commitChange(
    { server: dataDir, dataDir, source: 'margo serve' },
    'fleet',
    `device ${deviceId} enrolled (certificate ${fingerprint.slice(0, 19)}...)`,
    async (co) => {
      const file = join(co.dir, devicePath(deviceId));
      const text = await readFile(file, 'utf8').catch(() => undefined);
      if (text === undefined) return false;
      const doc = fromYaml<DeviceDoc>(text, devicePath(deviceId));
      if (doc.enrolment?.certificateFingerprint === fingerprint) return false;
      doc.enrolment = {
        ...doc.enrolment,
        enrolledAt: now().toISOString(),
        certificateFingerprint: fingerprint,
      };
      await writeFile(file, toYaml(doc));
      return true;
    },
    // Nobody waits for this write and nobody would redo it: give it more room to win races with
    // operators' commands than an interactive command gets.
    { attempts: 2 * DEFAULT_PUSH_ATTEMPTS },
  );
  return res.commit;
}
