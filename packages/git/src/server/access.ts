import type { TokenInfo } from './token-store.js';

export type RepoKind = 'catalog' | 'fleet' | 'device';

/** A repository served by the embedded server. */
export interface RepoRef {
  kind: RepoKind;
  deviceId?: string;
  /** Path under the repos root: `catalog.git`, `fleet.git`, `devices/<id>.git`. */
  name: string;
}

export type Decision = { allow: true } | { allow: false; reason: string; code?: string };

const ALLOW: Decision = { allow: true };
const deny = (reason: string): Decision => ({ allow: false, reason });

/**
 * May this token read (clone/fetch) this repository? Pure.
 * admin: everything; publisher: catalog; operator: catalog, fleet, device repos; viewer: catalog and
 * fleet; device: its own repo.
 */
export function canRead(tok: TokenInfo, repo: RepoRef): Decision {
  switch (tok.role) {
    case 'admin':
      return ALLOW;
    case 'publisher':
      return repo.kind === 'catalog' ? ALLOW : deny(`role publisher may not read ${repo.name}`);
    case 'operator':
      return ALLOW;
    case 'viewer':
      return repo.kind === 'device' ? deny(`role viewer may not read ${repo.name}`) : ALLOW;
    case 'device':
      return repo.kind === 'device' && repo.deviceId === tok.deviceId
        ? ALLOW
        : deny(
            `a device token may read only its own repository (devices/${tok.deviceId}.git), not ${repo.name}`,
          );
  }
}

/** May this token push to this repository at all (before looking at refs)? Pure. */
export function canPush(tok: TokenInfo, repo: RepoRef): Decision {
  switch (tok.role) {
    case 'admin':
      return ALLOW;
    case 'publisher':
      return repo.kind === 'catalog'
        ? ALLOW
        : deny(`role publisher may push only to catalog.git, not ${repo.name}`);
    case 'operator':
      return repo.kind === 'fleet'
        ? ALLOW
        : deny(`role operator may push only to fleet.git, not ${repo.name}`);
    case 'viewer':
      return deny(`role viewer may push nothing (${repo.name})`);
    case 'device':
      return repo.kind === 'device' && repo.deviceId === tok.deviceId
        ? ALLOW
        : deny(
            `a device token may push only to its own repository (devices/${tok.deviceId}.git), not ${repo.name}`,
          );
  }
}

/**
 * May this token update (create, move, delete) this ref? Devices: only `refs/heads/status` of
 * their own repository, and never delete it (`after` = the zero id). Branches of device
 * repositories are not deleted over HTTP by anyone (GIT_STATUS_BRANCH_PROTECTED).
 */
export function canUpdateRef(tok: TokenInfo, repo: RepoRef, ref: string, after?: string): Decision {
  const repoOk = canPush(tok, repo);
  if (!repoOk.allow) return repoOk;
  if (tok.role === 'device' && ref !== 'refs/heads/status') {
    return deny(`a device token may update only refs/heads/status, not ${ref}`);
  }
  if (repo.kind === 'device' && after !== undefined && /^0{40}$/.test(after)) {
    return {
      allow: false,
      code: 'GIT_STATUS_BRANCH_PROTECTED',
      reason: `${ref}: branches of a device repository cannot be deleted`,
    };
  }
  return ALLOW;
}
