/**
 * The seams between the CLI and the other packages, in one place. Each Services method is a few
 * lines over a library call; where a library does not offer the piece yet, the method throws
 * CLI_NOT_AVAILABLE naming what is missing (see the TODOs).
 */
import { join } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import { EnrolmentTokenStore, initPki, readDeviceCert, RevocationList, seal } from '@margo-gitops/trust';
import type { Connection } from './client-config.js';
import { catalogFilesHandler } from './catalog-files.js';
import { listenComposed, type Route } from './http-server.js';
import { createReposNative } from './native-repos.js';
import type { Services } from './services.js';
import { fetchStatusHttp } from './status-client.js';

function notAvailable(what: string): never {
  throw new MargoError('CLI_NOT_AVAILABLE', `${what} is not wired into this build of the CLI yet`);
}

/** The data folder of a connection, for operations that need the server's files (run on the server machine). */
function localData(conn: Connection, action: string): string {
  if (conn.dataDir) return conn.dataDir;
  throw new MargoError(
    'CLI_NOT_AVAILABLE',
    `${action} needs the server's data folder, and ${conn.server} is remote`,
    {
      hint: 'Run this on the server machine (the context written by `margo init`), or with --server file:///path/to/margo-data.',
    },
  );
}

export function defaultServices(): Services {
  return {
    async createPki(pkiDir) {
      await initPki(pkiDir, { commonName: 'margo-gitops root CA' });
    },
    createRepos: createReposNative,
    async issueToken() {
      // TODO(lead): TokenStore.open(join(dataDir, 'auth', 'tokens.json')).issueToken(role, { name }).token
      // once @margo-gitops/git exports TokenStore.
      return notAvailable('issuing API tokens (TokenStore from @margo-gitops/git)');
    },
    async issueEnrolmentToken(conn, deviceId) {
      const dataDir = localData(conn, 'issuing an enrolment token');
      const t = await new EnrolmentTokenStore(dataDir).issue(deviceId, { ttlSeconds: 24 * 3600 });
      return { token: t.token, expiresAt: t.expiresAt.toISOString() };
    },
    async revokeDevice(conn, deviceId) {
      const dataDir = localData(conn, 'revoking a device');
      await new RevocationList(join(dataDir, 'pki')).revokeDevice(
        deviceId,
        'revoked with margo device revoke',
      );
      await new EnrolmentTokenStore(dataDir).revokeForDevice(deviceId);
      // TODO(lead): also revoke the device's Git tokens (TokenStore from @margo-gitops/git).
    },
    async sealSecret(conn, deviceId, value) {
      const dataDir = localData(conn, 'sealing a secret');
      const cert = await readDeviceCert(join(dataDir, 'pki'), deviceId);
      if (!cert) {
        throw new MargoError(
          'CLI_DEVICE_NOT_FOUND',
          `device "${deviceId}" has no certificate yet, so a secret cannot be sealed to it`,
          {
            hint: 'Let the device enrol first (margo agent ...), then deploy with --secret.',
          },
        );
      }
      return seal(value, cert);
    },
    async startServer({ dataDir, listen, log }) {
      const routes: Route[] = [
        { prefix: '/catalog/', name: 'catalog files', handle: catalogFilesHandler(dataDir) },
      ];
      // TODO(lead): add routes for createGitHttpHandler (/git/), the onboarding handler
      // (/onboarding/ and /api/v1/onboarding/), createStatusHttpHandler (/api/status), and start
      // the Orchestrator; stop it in close().
      const srv = await listenComposed(routes, listen, (e, req) =>
        log.error('request failed', { url: req.url, error: (e as Error).message }),
      );
      return {
        url: srv.url,
        endpoints: Object.fromEntries(routes.map((r) => [r.name, srv.url + r.prefix])),
        close: srv.close,
      };
    },
    async startAgent() {
      // TODO(lead): Agent + loadAgentConfig from @margo-gitops/agent, enrol client on first start.
      return notAvailable('the device agent (@margo-gitops/agent)');
    },
    fetchStatus: fetchStatusHttp,
  };
}
