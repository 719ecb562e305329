// Attacks on the mTLS Workload Management API of a real `margo serve`. Certificates are forged with
// the openssl command line, as an attacker would: a look-alike CA with the same name as ours, and
// (for the checks behind the signature) certificates signed with our own CA key as a careless or
// compromised issuer would (expired, another trust domain). The client is node:https alone.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { expectOpenApiValid } from '../conformance/openapi.js';
import { requireComponent } from '../testbed/env.js';
import {
  httpsGet,
  startApiFleet,
  stopApiFleet,
  waitForManifest,
  type ApiFleet,
  type Identity,
  type Reply,
} from '../integration/api/fleet.js';

const ssl = (cwd: string, ...args: string[]) => execFileSync('openssl', args, { cwd, stdio: 'pipe' });

/**
 * A client certificate for `uri` signed by the CA in caCrt/caKey (openssl ca, so that the validity
 * can lie in the past), with EKU clientAuth.
 */
async function forge(
  dir: string,
  name: string,
  o: { caCrt: string; caKey: string; uri: string; start?: string; end?: string },
): Promise<Identity> {
  const d = join(dir, name);
  await mkdir(d, { recursive: true });
  await writeFile(join(d, 'index.txt'), '');
  await writeFile(join(d, 'serial'), '1000\n');
  await writeFile(
    join(d, 'ca.cnf'),
    [
      '[ca]',
      'default_ca = x',
      '[x]',
      `database = ${join(d, 'index.txt')}`,
      `new_certs_dir = ${d}`,
      `serial = ${join(d, 'serial')}`,
      'default_md = sha256',
      'policy = p',
      'unique_subject = no',
      'default_days = 30',
      '[p]',
      'commonName = supplied',
      '[ext]',
      'basicConstraints = critical,CA:FALSE',
      'keyUsage = critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage = clientAuth',
      `subjectAltName = URI:${o.uri}`,
      '',
    ].join('\n'),
  );
  ssl(
    d,
    'req',
    '-new',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'key.pem',
    '-out',
    'req.csr',
    '-subj',
    '/CN=dev1',
  );
  ssl(
    d,
    'ca',
    '-batch',
    '-config',
    'ca.cnf',
    '-cert',
    o.caCrt,
    '-keyfile',
    o.caKey,
    '-in',
    'req.csr',
    '-out',
    'cert.pem',
    '-extensions',
    'ext',
    '-notext',
    ...(o.start ? ['-startdate', o.start] : []),
    ...(o.end ? ['-enddate', o.end] : []),
  );
  return { cert: await readFile(join(d, 'cert.pem')), key: await readFile(join(d, 'key.pem')) };
}

function problem(r: Reply): { code: string; status: number; detail?: string; instance?: string } {
  assert.equal(r.headers['content-type'], 'application/problem+json');
  const p = JSON.parse(r.body.toString()) as { code: string; status: number };
  expectOpenApiValid('ProblemDetail', p);
  assert.equal(p.status, r.status);
  return p;
}

describe('Workload Management API: refused callers', { timeout: 420_000 }, () => {
  const f: Partial<ApiFleet> = {};
  before(async () => {
    await startApiFleet('margo-api-sec-', f);
  });
  after(async () => stopApiFleet(f));

  test('no certificate, look-alike CA, expired, other trust domain, other device, revoked', async (t) => {
    if (!requireComponent(t, 'docker')) return;
    const fleet = f as ApiFleet;
    const manifest = await waitForManifest(fleet, (m) => m.deployments.length === 1);
    const m = JSON.parse(manifest.body.toString()) as {
      deployments: { url: string; digest: string }[];
      bundle: { url: string };
    };
    const own = [m.deployments[0]!.url, m.bundle.url];
    const wk = JSON.parse(
      (await httpsGet(`${fleet.api}/.well-known/margo`, { ca: fleet.ca })).body.toString(),
    ) as {
      trustDomain: string;
    };
    const dev1Uri = /URI:(spiffe:\/\/\S+)/.exec(
      ssl(
        fleet.dir,
        'x509',
        '-noout',
        '-ext',
        'subjectAltName',
        '-in',
        join(fleet.dir, 'agent-state/identity/device.crt'),
      ).toString(),
    )![1]!;
    assert.ok(
      dev1Uri.startsWith(`spiffe://${wk.trustDomain}/margo/wfm/`) && dev1Uri.endsWith('/client/dev1'),
    );
    const at = (id: Identity | undefined, path: string) =>
      httpsGet(`${fleet.api}${path}`, { ca: fleet.ca, ...(id ? { id } : {}) });
    const paths = ['/api/v1/deployments', ...own];

    // 1. No client certificate.
    for (const p of paths) assert.equal(problem(await at(undefined, p)).code, 'API_CLIENT_CERT_REQUIRED', p);

    // 2. A CA of the attacker's with our CA's very name, and a leaf naming dev1's exact SPIFFE ID.
    const evil = join(fleet.dir, 'evil');
    await mkdir(evil, { recursive: true });
    const subject = ssl(
      fleet.dir,
      'x509',
      '-noout',
      '-subject',
      '-nameopt',
      'compat',
      '-in',
      join(fleet.dir, 'dev2-svid/bundle.pem'),
    )
      .toString()
      .replace(/^subject=\s*/, '')
      .trim();
    ssl(
      evil,
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '10',
      '-subj',
      subject,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
    const lookAlike = await forge(evil, 'leaf', {
      caCrt: join(evil, 'ca.crt'),
      caKey: join(evil, 'ca.key'),
      uri: dev1Uri,
    });
    for (const p of paths) assert.equal(problem(await at(lookAlike, p)).code, 'API_CLIENT_CERT_UNTRUSTED', p);

    // 3./4. Signed by our own CA key, but expired, or for another trust domain / another WFM.
    const ours = {
      caCrt: join(fleet.dir, 'margo-data/pki/ca.crt'),
      caKey: join(fleet.dir, 'margo-data/pki/ca.key'),
    };
    const expired = await forge(fleet.dir, 'expired', {
      ...ours,
      uri: dev1Uri,
      start: '20200101000000Z',
      end: '20200201000000Z',
    });
    for (const p of paths) assert.equal(problem(await at(expired, p)).code, 'API_CLIENT_CERT_EXPIRED', p);
    const otherTd = await forge(fleet.dir, 'other-td', {
      ...ours,
      uri: dev1Uri.replace(wk.trustDomain, 'evil.example'),
    });
    const otherWfm = await forge(fleet.dir, 'other-wfm', {
      ...ours,
      uri: dev1Uri.replace(/\/wfm\/[^/]+\//, '/wfm/0000000000000000/'),
    });
    for (const id of [otherTd, otherWfm])
      for (const p of paths) assert.equal(problem(await at(id, p)).code, 'API_SPIFFE_ID_INVALID', p);

    // 5. Another device's valid SVID asking for dev1's documents: the same 404 as any unknown
    //    digest, so nothing says that dev1 holds them; its own manifest knows nothing of dev1.
    const zero = `sha256:${'0'.repeat(64)}`;
    const unknown = problem(await at(fleet.dev2, `/api/v1/bundles/${zero}`));
    for (const p of own) {
      const r = await at(fleet.dev2, p);
      assert.equal(r.status, 404, p);
      const body = problem(r);
      assert.deepEqual({ ...body, instance: undefined }, { ...unknown, instance: undefined });
      assert.ok(!r.body.toString().includes('dev1'));
    }
    const m2 = await at(fleet.dev2, '/api/v1/deployments');
    assert.equal(m2.status, 503, 'dev2 has no desired state yet');
    assert.equal(m2.headers['retry-after'], '10', 'no state yet: a short Retry-After');
    assert.ok(!m2.body.toString().includes(m.deployments[0]!.digest));

    // 6. TLS 1.2 is refused by default (TLS 1.3 only unless --api-tls12).
    await assert.rejects(
      new Promise((resolve, reject) => {
        const a = new Agent({ maxVersion: 'TLSv1.2' });
        httpsGet(`${fleet.api}/.well-known/margo`, { ca: fleet.ca, agent: a }).then(resolve, reject);
      }),
    );

    // 7. Revocation ends access at once, on a connection that is already open and authenticated.
    const keep = new Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => keep.destroy());
    const poll = () =>
      httpsGet(`${fleet.api}/api/v1/deployments`, {
        ca: fleet.ca,
        id: fleet.dev1,
        agent: keep,
        headers: { 'if-none-match': manifest.headers.etag as string },
      });
    const before = await poll();
    assert.ok(before.status === 304 || before.status === 200);
    const sockets = () =>
      Object.values(keep.sockets).flat().length + Object.values(keep.freeSockets).flat().length;
    assert.equal(sockets(), 1);
    const rev = await fleet.cli.run('device', 'revoke', 'dev1');
    assert.equal(rev.code, 0, rev.err);
    const afterRevoke = await poll();
    assert.equal(afterRevoke.status, 403);
    assert.equal(problem(afterRevoke).code, 'API_CLIENT_CERT_REVOKED');
    assert.equal(sockets(), 1, 'refused on the same connection, not only at the next handshake');
    for (const p of own) assert.equal(problem(await at(fleet.dev1, p)).code, 'API_CLIENT_CERT_REVOKED');
    assert.equal((await fleet.cli.run('device', 'revoke', 'dev2')).code, 0);
    assert.equal(problem(await at(fleet.dev2, '/api/v1/deployments')).code, 'API_CLIENT_CERT_REVOKED');
  });
});
