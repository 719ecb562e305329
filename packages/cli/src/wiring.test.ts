// The trust glue of serve and agent, with the real trust package: what the server signs, the
// agent's verifier accepts; a tampered file, another device, or an older manifest is refused.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initPki, type Pki } from '@margo-gitops/trust';
import { manifestVerifier } from './agent-wiring.js';
import { manifestSigner } from './server-wiring.js';

let dir: string;
let pki: Pki;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'margo-wiring-'));
  pki = await initPki(join(dir, 'pki'), { commonName: 'test CA', bits: 2048 });
});
after(() => rm(dir, { recursive: true, force: true }));

describe('signed desired state between serve and agent', () => {
  it('accepts what the server signed, refuses tampering, other devices and rollback', async () => {
    let t = Date.now();
    const sign = manifestSigner(pki, () => t);
    const files = new Map([['deployments/hello.yaml', Buffer.from('kind: ApplicationDeployment\n')]]);
    const v1 = await sign('dev1', files, { version: 0n });
    t += 1000;
    const v2 = await sign('dev1', files, { version: 0n });
    const verify = manifestVerifier({ caCertPem: pki.ca.certPem, deviceId: 'dev1' }, join(dir, 'agent'));
    await verify(v2, { deviceId: 'dev1', commit: 'c2' });
    await verify(v2, { deviceId: 'dev1', commit: 'c2' }); // same manifest again: fine
    await assert.rejects(verify(v1, { deviceId: 'dev1', commit: 'c1' }), { code: 'TRUST_MANIFEST_ROLLBACK' });
    const tampered = new Map(v2);
    tampered.set('deployments/hello.yaml', Buffer.from('kind: Evil\n'));
    await assert.rejects(verify(tampered, { deviceId: 'dev1', commit: 'c3' }), (e: { code?: string }) =>
      /^TRUST_/.test(e.code ?? ''),
    );
    await assert.rejects(
      manifestVerifier({ caCertPem: pki.ca.certPem, deviceId: 'dev2' }, join(dir, 'other'))(v2, {
        deviceId: 'dev2',
        commit: 'c2',
      }),
      (e: { code?: string }) => /^TRUST_/.test(e.code ?? ''),
    );
  });
});
