import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import type { CommandDeps } from '../../context.js';
import { devicePath } from '../../fleet-docs.js';
import { commitChange } from '../../git-remote.js';
import { formatOutput, type OutputFormat } from '../../output.js';

export interface RevokeOptions {
  id: string;
  output: OutputFormat;
}

/**
 * `margo device revoke ID`: invalidate the device's certificate and Git token at once (server side),
 * then remove devices/<id>.yaml from the fleet in one commit. The device repository is kept for audit.
 */
export async function run(opts: RevokeOptions, deps: CommandDeps): Promise<number> {
  const conn = await deps.connect();
  await deps.services.revokeDevice(conn, opts.id);
  const res = await commitChange(conn, 'fleet', `revoke device ${opts.id}`, async (co) => {
    const file = join(co.dir, devicePath(opts.id));
    if (
      !(await stat(file).then(
        () => true,
        () => false,
      ))
    ) {
      throw new MargoError('CLI_DEVICE_NOT_FOUND', `no device "${opts.id}" in the fleet repository`, {
        data: { id: opts.id },
      });
    }
    await rm(file);
  });
  deps.io.out(
    formatOutput(
      { id: opts.id, revoked: true, commit: res.commit ?? null },
      opts.output,
      (r) => `device ${r.id} revoked (its repository is kept for audit)\n`,
    ),
  );
  return 0;
}
