// The catalog the pre-write checks read: from the server's bare repository on its machine, from a
// clone elsewhere, the same packages and yanked versions (real git, a real publish).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { readServerCatalog } from './fleet-check-io.js';
import { memoryIo } from './io.js';
import { main } from './main.js';
import { createReposNative } from './native-repos.js';
import { examplesDir, reposTemplateDir } from './paths.js';
import type { Services } from './services.js';

let root: string;
let env: NodeJS.ProcessEnv;
async function margo(...args: string[]) {
  const io = memoryIo();
  const code = await main(['node', 'margo', ...args], { io, env, cwd: root, services: {} as Services });
  return { code, out: io.stdout(), err: io.stderr() };
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'margo-check-io-'));
  await createReposNative(root, reposTemplateDir);
  env = { ...process.env, MARGO_CONFIG: join(root, 'config.json'), MARGO_SERVER: root };
  for (const app of ['hello-world', 'helm-app']) {
    const p = await margo('app', 'publish', join(examplesDir, app));
    assert.equal(p.code, 0, p.err);
  }
  const y = await margo('app', 'yank', 'hello-world', '1.0.0', '--reason', 'test');
  assert.equal(y.code, 0, y.err);
});
after(() => rm(root, { recursive: true, force: true }));

describe('readServerCatalog', () => {
  it('reads the same catalog from the bare repository and from a clone', async () => {
    const server = pathToFileURL(root).href;
    const direct = await readServerCatalog({ server, dataDir: root, source: 'test' });
    const cloned = await readServerCatalog({ server, source: 'test' });
    for (const c of [direct, cloned]) {
      assert.deepEqual(
        [...c.yanked].map(([id, v]) => [id, [...v]]),
        [['hello-world', ['1.0.0']]],
      );
      // Yanked versions are left out of the catalog, as the orchestrator leaves them out.
      assert.equal(c.catalog.get('hello-world')?.has('1.0.0') ?? false, false);
      const helm = c.catalog.get('helm-app')?.get('1.0.0');
      assert.ok(helm && 'app' in helm && helm.app.id === 'helm-app', JSON.stringify(helm));
      assert.ok(helm && 'app' in helm && helm.artifacts?.size, 'the OCI artifacts the server pins');
    }
    assert.deepEqual([...direct.catalog.keys()], [...cloned.catalog.keys()]);
  });
});
