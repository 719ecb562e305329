import { stat, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import type { CommandDeps } from '../../context.js';
import { devicePath, deviceDoc, toYaml } from '../../fleet-docs.js';
import { commitChange } from '../../git-remote.js';
import { parseKeyValues } from '../../kv.js';
import { formatOutput, type OutputFormat } from '../../output.js';

export interface AddOptions {
  id: string;
  role?: string;
  label: string[];
  output: OutputFormat;
}

export interface AddResult {
  id: string;
  commit: string;
  /** The enrolment string `mge1.<id>.<tokenId>.<secret>.<caFp>` (shown once; names the device, pins the CA). */
  enrolmentToken: string;
  expiresAt?: string;
  /** `sha256:<hex>` of the root CA the string pins. */
  caFingerprint?: string;
  server: string;
}

/**
 * `margo device add ID`: commit devices/<id>.yaml, then issue a one-time enrolment string (printed
 * once) that names the device, pins the root CA and proves possession without being sent.
 */
export async function run(opts: AddOptions, deps: CommandDeps): Promise<number> {
  const doc = deviceDoc(opts.id, {
    ...(opts.role ? { role: opts.role } : {}),
    labels: parseKeyValues(opts.label, '--label'),
  });
  const conn = await deps.connect();
  // The token first: when it cannot be issued here (remote server, no data folder), nothing is
  // committed. A token issued for an id that turns out to exist is never shown, so it is useless.
  const tok = await deps.services.issueEnrolmentToken(conn, opts.id);
  const res = await commitChange(conn, 'fleet', `add device ${opts.id}`, async (co) => {
    const file = join(co.dir, devicePath(opts.id));
    if (
      await stat(file).then(
        () => true,
        () => false,
      )
    ) {
      throw new MargoError('CLI_DEVICE_EXISTS', `device "${opts.id}" is already in the fleet repository`, {
        data: { id: opts.id },
      });
    }
    await mkdir(join(co.dir, 'devices'), { recursive: true });
    await writeFile(file, toYaml(doc));
  });
  const out: AddResult = {
    id: opts.id,
    commit: res.commit ?? '',
    enrolmentToken: tok.token,
    ...(tok.expiresAt ? { expiresAt: tok.expiresAt } : {}),
    ...(tok.caFingerprint ? { caFingerprint: `sha256:${tok.caFingerprint}` } : {}),
    server: conn.server,
  };
  deps.io.out(
    formatOutput(out, opts.output, (r) =>
      [
        `device ${r.id} added to the fleet (commit ${r.commit.slice(0, 12)})`,
        `enrolment string (shown once${r.expiresAt ? `, valid until ${r.expiresAt}` : ''}; it pins the root CA):`,
        `  ${r.enrolmentToken}`,
        ...(r.caFingerprint ? [`root CA fingerprint: ${r.caFingerprint}`] : []),
        `on the device, run (then paste the string and press Ctrl-D; it stays out of ps and shell history):`,
        `  margo agent --server ${r.server} --token-file - --state /var/lib/margo-agent`,
        `or save it in a file only root can read and pass --token-file FILE (see docs/device-setup.md).`,
        '',
      ].join('\n'),
    ),
  );
  return 0;
}
