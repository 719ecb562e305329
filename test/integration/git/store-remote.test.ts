/**
 * The remote half of the GitStore contract (clone, fetch, push with token auth), for both
 * backends, against (1) the embedded server and (2) an independent server: the testbed's
 * nginx + fcgiwrap + git http-backend with basic auth (skipped loudly when the testbed is not up).
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { IsoGitStore, NativeGitStore, TokenStore, createRepos, startGitServer } from '@margo-gitops/git';
import {
  remoteContract,
  type Backend,
  type RemoteFixture,
} from '../../../packages/git/src/testing/store-contract.ts';
import { requireComponent } from '../../testbed/env.ts';
import { tempDir } from './helpers.ts';

const backends: Backend[] = [
  { name: 'IsoGitStore', make: (d) => new IsoGitStore(d) },
  { name: 'NativeGitStore', make: (d) => new NativeGitStore(d) },
];

const embedded = async (t: Parameters<typeof tempDir>[0]): Promise<RemoteFixture> => {
  const root = await tempDir(t);
  await createRepos(join(root, 'repos'));
  const tokens = TokenStore.open(join(root, 'tokens.json'));
  const srv = await startGitServer({ reposRoot: join(root, 'repos'), tokens, rateLimit: false });
  t.after(() => srv.close());
  return {
    url: `${srv.url}/fleet.git`,
    auth: { token: tokens.issueToken('operator').token },
    badAuth: { token: 'mgt_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
    allowsForce: true,
    acceptsBearer: true,
  };
};

const external = async (t: Parameters<typeof tempDir>[0]): Promise<RemoteFixture> => {
  const tb = requireComponent(t, 'git');
  if (!tb) throw new Error('testbed git not up');
  const name = `contract-${randomBytes(6).toString('hex')}.git`;
  const dir = join(tb.gitRoot!, name);
  await new NativeGitStore(dir).init();
  t.after(() => rm(dir, { recursive: true, force: true }));
  return {
    url: `${tb.gitHttpAuth}/${name}`,
    auth: { token: tb.gitPassword!, username: tb.gitUser! },
    badAuth: { token: 'not-the-password', username: tb.gitUser! },
    allowsForce: true,
    acceptsBearer: false,
  };
};

for (const b of backends) {
  remoteContract(b, embedded, 'embedded server');
  remoteContract(b, external, 'testbed nginx + git-http-backend');
}
