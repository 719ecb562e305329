// Smoke: the open registry serves the test image and charts; the htpasswd registry refuses
// pulls without credentials and allows them with credentials.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { requireComponent, testbedProcessEnv } from '../testbed/env.ts';
import { basicAuth, httpGet, mustRun, run } from './util.ts';

const manifestAccept = {
  Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json',
};

test('the open registry serves the test image without credentials', async (t) => {
  const tb = requireComponent(t, ['registry', 'image']);
  if (!tb) return;
  const r = await httpGet(`http://${tb.registry}/v2/margo/echo/manifests/1`, manifestAccept);
  assert.equal(r.status, 200);
});

test('the auth registry refuses a pull without credentials and allows it with them', async (t) => {
  const tb = requireComponent(t, ['registry', 'image']);
  if (!tb) return;
  const url = `http://${tb.registryAuth}/v2/margo/echo/manifests/1`;
  assert.equal((await httpGet(url, manifestAccept)).status, 401);
  assert.equal(
    (await httpGet(url, { ...manifestAccept, Authorization: basicAuth('margo', 'wrong') })).status,
    401,
  );
  const ok = await httpGet(url, {
    ...manifestAccept,
    Authorization: basicAuth(tb.registryUser!, tb.registryPassword!),
  });
  assert.equal(ok.status, 200);

  // The same through the Docker engine, with a docker config of our own (no stored credentials).
  const dockerConfig = mkdtempSync(join(tmpdir(), 'margo-smoke-dockercfg-'));
  t.after(() => rmSync(dockerConfig, { recursive: true, force: true }));
  const env = testbedProcessEnv(tb, { DOCKER_CONFIG: dockerConfig });
  // `docker pull` always asks the registry for the manifest, even when the image is local.
  const denied = await run('docker', ['pull', tb.imagePrivate!], { env, timeoutMs: 60_000 });
  assert.notEqual(denied.code, 0, 'pull without credentials must fail');
  assert.match(denied.stderr, /no basic auth credentials|unauthorized|authentication required/i);
  await mustRun('docker', ['login', '-u', tb.registryUser!, '--password-stdin', tb.registryAuth!], {
    env,
    input: tb.registryPassword!,
  });
  await mustRun('docker', ['pull', tb.imagePrivate!], { env, timeoutMs: 60_000 });
});

test('helm pulls test charts from the open and the auth registry', async (t) => {
  const tb = requireComponent(t, ['helm', 'charts']);
  if (!tb) return;
  const home = mkdtempSync(join(tmpdir(), 'margo-smoke-helm-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const env = testbedProcessEnv(tb, {
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_DATA_HOME: join(home, 'data'),
  });
  const dest = join(home, 'out');
  mkdirSync(dest);
  await mustRun(
    tb.helm!,
    ['pull', `${tb.chartRepo}/hello`, '--version', '0.1.0', '--plain-http', '-d', dest],
    {
      env,
    },
  );
  const denied = await run(
    tb.helm!,
    ['pull', `${tb.chartRepoAuth}/hello`, '--version', '0.1.0', '--plain-http', '-d', dest],
    { env },
  );
  assert.notEqual(denied.code, 0, 'helm pull from the auth registry without login must fail');
  await mustRun(
    tb.helm!,
    ['registry', 'login', tb.registryAuth!, '--insecure', '-u', tb.registryUser!, '--password-stdin'],
    { env, input: tb.registryPassword! },
  );
  await mustRun(
    tb.helm!,
    ['pull', `${tb.chartRepoAuth}/frontend`, '--version', '0.1.0', '--plain-http', '-d', dest],
    { env },
  );
});
