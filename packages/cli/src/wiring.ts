/**
 * The seams between the CLI and the other packages, in one place. Each Services method is a few
 * lines over a library call; where a library does not offer the piece yet, the method throws
 * CLI_NOT_AVAILABLE naming what is missing (see the TODOs).
 */
import { join } from 'node:path';
import { MargoError } from '@margo-gitops/spec';
import { createRepos, TokenStore } from '@margo-gitops/git';
import {
  certificateFingerprint,
  EnrolmentTokenStore,
  initPki,
  readDeviceCert,
  RevocationList,
  seal,
} from '@margo-gitops/trust';
import { startAgent } from './agent-wiring.js';
import type { Connection } from './client-config.js';
import { seedRepos } from './native-repos.js';
import { startServer, tokensFile } from './server-wiring.js';
import type { Services } from './services.js';
import { fetchStatusHttp } from './status-client.js';

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
      const pki = await initPki(pkiDir, { commonName: 'margo-gitops root CA' });
      return { caFingerprint: certificateFingerprint(pki.ca.certPem) };
    },
    async createRepos(dataDir, templateDir) {
      await createRepos(join(dataDir, 'repos'));
      await seedRepos(dataDir, templateDir);
    },
    async issueToken(dataDir, role, name) {
      return TokenStore.open(tokensFile(dataDir)).issueToken(role, { name }).token;
    },
    async issueEnrolmentToken(conn, deviceId) {
      const dataDir = localData(conn, 'issuing an enrolment token');
      const t = await new EnrolmentTokenStore(dataDir).issue(deviceId, { ttlSeconds: 24 * 3600 });
      // `mge1.<deviceId>.<tokenId>.<secret>.<caFp>`: names the device and pins the root CA.
      return { token: t.enrolment, expiresAt: t.expiresAt.toISOString(), caFingerprint: t.caFingerprint };
    },
    async revokeDevice(conn, deviceId) {
      const dataDir = localData(conn, 'revoking a device');
      await new RevocationList(join(dataDir, 'pki')).revokeDevice(
        deviceId,
        'revoked with margo device revoke',
      );
      await new EnrolmentTokenStore(dataDir).revokeForDevice(deviceId);
      const tokens = TokenStore.open(tokensFile(dataDir));
      for (const t of tokens.list()) if (t.deviceId === deviceId && !t.revoked) tokens.revoke(t.id);
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
    startServer,
    startAgent: (opts) => startAgent(opts),
    fetchStatus: fetchStatusHttp,
  };
}
