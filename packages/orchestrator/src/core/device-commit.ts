/** The commit message of a device's desired-state commit (pure). */
import type { DeploymentOutcome } from './desired-state.js';

export interface Changes {
  added: string[];
  updated: string[];
  removed: string[];
}

export function diffDeployments(
  current: ReadonlyMap<string, { bytes: Buffer }>,
  desired: ReadonlyMap<string, Buffer>,
): Changes {
  const c: Changes = { added: [], updated: [], removed: [] };
  for (const [path, bytes] of desired) {
    const name = path.replace(/^deployments\//, '').replace(/\.yaml$/, '');
    const cur = current.get(name);
    if (!cur) c.added.push(name);
    else if (!cur.bytes.equals(bytes)) c.updated.push(name);
  }
  for (const name of current.keys()) if (!desired.has(`deployments/${name}.yaml`)) c.removed.push(name);
  c.added.sort();
  c.updated.sort();
  c.removed.sort();
  return c;
}

export function commitMessage(
  deviceId: string,
  outcomes: DeploymentOutcome[],
  c: Changes,
  reason: string,
  fleet: string | null,
  catalog: string | null,
  foreign?: { commit: string | null; code: string },
): string {
  const parts = [
    ...c.added.map((n) => `add ${n}`),
    ...c.updated.map((n) => `update ${n}`),
    ...c.removed.map((n) => `remove ${n}`),
  ];
  const subject = parts.length
    ? `${deviceId}: ${parts.join(', ')}`
    : foreign
      ? `${deviceId}: restore the signed desired state`
      : `${deviceId}: re-sign desired state`;
  const byName = new Map(outcomes.map((o) => [o.deployment, o]));
  const body: string[] = [];
  for (const n of [...c.added, ...c.updated]) {
    const o = byName.get(n);
    body.push(
      `${c.added.includes(n) ? '+' : '~'} ${n}: ${o?.applicationId ?? '?'} ${o?.version ?? '?'}${o?.profileType ? ` (${o.profileType})` : ''}`,
    );
  }
  for (const n of c.removed) {
    const o = byName.get(n);
    body.push(`- ${n}${o?.reason ? `: ${o.reason}` : ': no longer in the fleet'}`);
  }
  const trailers = [`Margo-Trigger: ${reason.replace(/\n/g, ' ')}`];
  if (foreign) trailers.push(`Margo-Replaced-Unsigned: ${foreign.commit ?? '(deleted)'} ${foreign.code}`);
  if (fleet) trailers.push(`Margo-Fleet-Commit: ${fleet}`);
  if (catalog) trailers.push(`Margo-Catalog-Commit: ${catalog}`);
  for (const n of [...c.added, ...c.updated, ...c.removed].sort()) trailers.push(`Margo-Intent: ${n}`);
  return `${subject}\n\n${body.length ? `${body.join('\n')}\n\n` : ''}${trailers.join('\n')}\n`;
}
