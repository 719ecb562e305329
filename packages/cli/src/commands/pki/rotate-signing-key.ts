import { X509Certificate } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { CommandDeps } from '../../context.js';
import { formatOutput, type OutputFormat } from '../../output.js';

export interface RotateSigningKeyOptions {
  data: string;
  /** The old key leaked: revoke its certificate in every manifest signed from now on. */
  compromised: boolean;
  output: OutputFormat;
}

export interface RotateSigningKeyResult {
  dataDir: string;
  oldSerial: string;
  newSerial: string;
  newNotAfter: string;
  compromised: boolean;
  /** Every revoked signer serial that manifests now carry. */
  revokedSigners: string[];
}

const serialOf = (pem: string) => new X509Certificate(pem).serialNumber.toLowerCase().replace(/^0+(?=.)/, '');

/**
 * `margo pki rotate-signing-key [--compromised] [--data DIR]`: a new desired-state signing key
 * certified by the same root CA, on the server's machine (it edits `<data>/pki`, no connection).
 * A running `margo serve` re-signs every device with it on its next pass. With --compromised the old
 * certificate goes to pki/revoked-signers.json first: every manifest signed afterwards lists it,
 * and a device that accepted one refuses anything the old key signs (TRUST_MANIFEST_SIGNER_REVOKED).
 */
export async function run(opts: RotateSigningKeyOptions, deps: CommandDeps): Promise<number> {
  const dataDir = resolve(deps.cwd, opts.data);
  const pkiDir = join(dataDir, 'pki');
  // node-forge is loaded only when this command runs.
  const { loadPki, rotateSigningKey, readRevokedSigners } = await import('@margo-gitops/trust');
  const pki = await loadPki(pkiDir);
  const next = await rotateSigningKey(pki, { compromised: opts.compromised });
  const result: RotateSigningKeyResult = {
    dataDir,
    oldSerial: serialOf(pki.signing.certPem),
    newSerial: serialOf(next.signing.certPem),
    newNotAfter: new Date(new X509Certificate(next.signing.certPem).validTo).toISOString(),
    compromised: opts.compromised,
    revokedSigners: await readRevokedSigners(pkiDir),
  };
  deps.io.out(
    formatOutput(result, opts.output, (r) =>
      [
        `signing key rotated: ${r.oldSerial} -> ${r.newSerial} (valid until ${r.newNotAfter})`,
        r.compromised
          ? `certificate ${r.oldSerial} revoked: every manifest signed from now on lists it, and a device refuses what it signs once it accepted one of them`
          : 'the old certificate is not revoked: devices still accept what it signed (use --compromised if the key may have leaked)',
        `the old certificate is kept in ${join(pkiDir, 'retired')}; a running margo serve re-signs every device with the new key at its next pass`,
        '',
      ].join('\n'),
    ),
  );
  return 0;
}
