import { isValidDeviceId } from '@margo-gitops/spec';
import type { RepoKind, RepoRef } from './access.js';

/** A smart-HTTP request on one repository. */
export interface Route {
  repo: RepoRef;
  action: 'advertise-upload' | 'advertise-receive' | 'upload-pack' | 'receive-pack';
}

/** Maps `<rest>` of `/git/<rest>` to a repository and smart-HTTP action (undefined = not served). */
export function parseGitPath(
  rest: string,
  method: string,
  service: string | null,
): Route | { error: number; message: string } {
  const m =
    /^(?:(catalog|fleet)\.git|devices\/([^/]+)\.git)\/(info\/refs|git-upload-pack|git-receive-pack)$/.exec(
      rest,
    );
  if (!m) {
    return /^(?:(?:catalog|fleet)\.git|devices\/[^/]+\.git)(?:\/|$)/.test(rest)
      ? {
          error: 404,
          message: 'only the smart HTTP protocol is served (info/refs, git-upload-pack, git-receive-pack)',
        }
      : {
          error: 404,
          message: 'no such repository; repositories are catalog.git, fleet.git and devices/<id>.git',
        };
  }
  const deviceId = m[2];
  if (deviceId !== undefined && !isValidDeviceId(deviceId)) {
    return { error: 404, message: 'invalid device id in repository path' };
  }
  const repo: RepoRef = m[1]
    ? { kind: m[1] as RepoKind, name: `${m[1]}.git` }
    : { kind: 'device', deviceId: deviceId!, name: `devices/${deviceId}.git` };
  const what = m[3];
  if (what === 'info/refs' && method === 'GET') {
    if (service === 'git-upload-pack') return { repo, action: 'advertise-upload' };
    if (service === 'git-receive-pack') return { repo, action: 'advertise-receive' };
    return {
      error: 403,
      message: 'only the smart HTTP protocol is served; use a git client newer than 1.6.6',
    };
  }
  if (what === 'git-upload-pack' && method === 'POST') return { repo, action: 'upload-pack' };
  if (what === 'git-receive-pack' && method === 'POST') return { repo, action: 'receive-pack' };
  return { error: 405, message: 'method not allowed' };
}

/** Reads the token from `Authorization: Basic base64(user:token)` or `Bearer <token>`. */
export function tokenFromHeader(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const [scheme, value] = header.trim().split(/\s+/, 2);
  if (!scheme || !value) return undefined;
  if (scheme.toLowerCase() === 'bearer') return value;
  if (scheme.toLowerCase() !== 'basic') return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  const user = i >= 0 ? decoded.slice(0, i) : decoded;
  const pass = i >= 0 ? decoded.slice(i + 1) : '';
  return pass || user || undefined;
}
