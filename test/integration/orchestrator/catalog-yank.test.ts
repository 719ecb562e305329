// A yanked catalog version (<app>/<version>/yanked.yaml, accepted once by the Git server) is not
// in the catalog the orchestrator resolves against: a range moves to the best version left.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createRepos } from '@margo-gitops/git';
import { prepareReconcile, resolveVersion } from '@margo-gitops/orchestrator';
import type { DeploymentIntent, Fleet, FleetDevice } from '@margo-gitops/spec';
import { CatalogReader } from '../../../packages/orchestrator/src/io/read-sources.js';
import { bareGit, tempRoot, WorkTree } from './helpers.js';

const { root, cleanup } = tempRoot('margo-orch-yank-');
after(cleanup);

const app = (version: string) => `apiVersion: margo.org/v1-alpha1
kind: ApplicationDescription
metadata:
  id: web
  name: Web
  version: ${version}
  catalog:
    organization: [{name: Acme}]
deploymentProfiles:
  - type: compose
    id: c
    components:
      - name: web
        properties:
          repository: oci://registry.example.invalid/yank/web
          revision: 1.0.0
`;

test('catalog: a yanked version is left out, so ranges resolve to the best version still published', async () => {
  const reposRoot = join(root, 'repos');
  await createRepos(reposRoot);
  const gitdir = join(reposRoot, 'catalog.git');
  const wt = new WorkTree(root, gitdir, 'main');
  wt.write({ 'web/1.0.0/margo.yaml': app('1.0.0'), 'web/1.1.0/margo.yaml': app('1.1.0') }, 'publish');
  const reader = new CatalogReader();
  const before = await reader.read(gitdir, bareGit(gitdir, 'rev-parse', 'main'));
  assert.deepEqual(resolveVersion('^1.0', [...before.get('web')!.keys()]), { version: '1.1.0' });
  wt.write({ 'web/1.1.0/yanked.yaml': 'kind: Yank\nreason: broken\n' }, 'yank web 1.1.0');
  const after = await reader.read(gitdir, bareGit(gitdir, 'rev-parse', 'main'));
  assert.deepEqual([...after.get('web')!.keys()], ['1.0.0']);
  assert.deepEqual(resolveVersion('^1.0', [...after.get('web')!.keys()]), { version: '1.0.0' });

  // Named exactly, the yanked version holds the deployment with its own code, not "not found".
  const intent = (version: string) =>
    ({ name: 'w', application: { id: 'web', version }, targets: { devices: ['d1'] } }) as DeploymentIntent;
  const fleet = (version: string): Fleet => ({
    devices: new Map([['d1', { id: 'd1', labels: {}, expectedReportSeconds: 60 } as FleetDevice]]),
    deployments: new Map([['w', intent(version)]]),
    findings: [],
  });
  const exact = prepareReconcile(fleet('1.1.0'), after, { yanked: reader.yanked });
  assert.equal(exact.intents[0]!.error?.code, 'ORCH_VERSION_YANKED');
  assert.match(exact.intents[0]!.error!.reason, /web 1\.1\.0 was yanked/);
  const range = prepareReconcile(fleet('^1.0'), after, { yanked: reader.yanked });
  assert.equal(range.intents[0]!.version, '1.0.0');
});
