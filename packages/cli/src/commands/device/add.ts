import { stat, writeFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import type { CommandDeps } from '../../context.js';
import { devicePath, deviceDoc, toYaml } from '../../fleet-docs.js';
import { deviceDocProblems, refusal } from '../../fleet-checks.js';
import { commitChange } from '../../git-remote.js';
import { parseKeyValues } from '../../kv.js';
import { formatOutput, type OutputFormat } from '../../output.js';
import { issueSvidOut, type WrittenSvid } from '../../svid-out.js';
import type { Connection } from '../../client-config.js';

export interface AddOptions {
  id: string;
  role?: string;
  label: string[];
  output: OutputFormat;
  /** Issue an X.509-SVID into this folder instead of an enrolment token (third-party API clients). */
  svidOut?: string;
}

export interface AddResult {
  id: string;
  commit: string;
  /** The enrolment string `mge1.<id>.<tokenId>.<secret>.<caFp>` (shown once; names the device, pins the CA). Absent with --svid-out. */
  enrolmentToken?: string;
  /** With --svid-out: where the SVID went and the SPIFFE ID it carries. */
  svid?: WrittenSvid;
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
  // A document the fleet parser refuses would leave the device out of the fleet: refused first.
  const bad = deviceDocProblems(doc);
  if (bad.length) throw refusal(`device ${opts.id}`, bad, { forcible: false })!;
  const conn = await deps.connect();
  if (opts.svidOut) return addWithSvid(opts, doc, conn, deps);
  // The token first: when it cannot be issued here (remote server, no data folder), nothing is
  // committed. A token issued for an id that turns out to exist is never shown, so it is useless.
  const tok = await deps.services.issueEnrolmentToken(conn, opts.id);
  const res = await commitDevice(conn, opts.id, doc);
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

/** Commits devices/<id>.yaml to the fleet; CLI_DEVICE_EXISTS when it is there already. */
function commitDevice(conn: Connection, id: string, doc: ReturnType<typeof deviceDoc>) {
  return commitChange(conn, 'fleet', `add device ${id}`, async (co) => {
    const file = join(co.dir, devicePath(id));
    if (
      await stat(file).then(
        () => true,
        () => false,
      )
    ) {
      throw new MargoError('CLI_DEVICE_EXISTS', `device "${id}" is already in the fleet repository`, {
        data: { id },
      });
    }
    await mkdir(join(co.dir, 'devices'), { recursive: true });
    await writeFile(file, toYaml(doc));
  });
}

/**
 * `--svid-out DIR`: the device gets an X.509-SVID (written to DIR) instead of an enrolment string;
 * for clients that speak the Workload Management API and are not our agent. Server machine only.
 */
async function addWithSvid(
  opts: AddOptions,
  doc: ReturnType<typeof deviceDoc>,
  conn: Connection,
  deps: CommandDeps,
): Promise<number> {
  if (!conn.dataDir)
    throw new MargoError(
      'CLI_NOT_AVAILABLE',
      `--svid-out needs the server's data folder, and ${conn.server} is remote`,
      {
        hint: 'Run this on the server machine (the context written by `margo init`).',
      },
    );
  let commit = '';
  const svid = await issueSvidOut(conn.dataDir, opts.id, resolve(deps.cwd, opts.svidOut!), async () => {
    commit = (await commitDevice(conn, opts.id, doc)).commit ?? '';
  });
  const out: AddResult = { id: opts.id, commit, svid, server: conn.server };
  deps.io.out(
    formatOutput(out, opts.output, (r) =>
      [
        `device ${r.id} added to the fleet (commit ${r.commit.slice(0, 12)})`,
        `X.509-SVID ${r.svid!.spiffeId} (valid until ${r.svid!.notAfter}) written to ${r.svid!.dir}:`,
        `  svid.pem (certificate), svid.key (private key, mode 0600), bundle.pem (trust bundle: the root CA)`,
        `the device's client calls the Workload Management API with them (see docs/api.md).`,
        '',
      ].join('\n'),
    ),
  );
  return 0;
}
