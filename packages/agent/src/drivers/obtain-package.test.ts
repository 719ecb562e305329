import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import * as openpgp from 'openpgp';
import * as tar from 'tar';
import { obtainPackage, unpackPackage } from './obtain-package.js';

async function keyPair() {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ name: 'publisher', email: 'p@example.org' }],
    format: 'armored',
  });
  return { privateKey: await openpgp.readPrivateKey({ armoredKey: privateKey }), publicKey };
}

async function sign(data: Buffer, privateKey: openpgp.PrivateKey, armor: boolean): Promise<Buffer> {
  const message = await openpgp.createMessage({ binary: new Uint8Array(data) });
  const sig = armor
    ? await openpgp.sign({ message, signingKeys: privateKey, detached: true, format: 'armored' })
    : await openpgp.sign({ message, signingKeys: privateKey, detached: true, format: 'binary' });
  return Buffer.from(sig as string | Uint8Array);
}

test('obtainPackage: detached PGP signatures (.sig binary, .asc armored), wrong key, missing signature, checksum', async () => {
  const good = await keyPair();
  const other = await keyPair();
  const pkg = Buffer.from('pretend tarball bytes');
  const repoFiles = new Map<string, Buffer>([
    ['pkgs/app.tgz', pkg],
    ['pkgs/app.tgz.sig', await sign(pkg, good.privateKey, false)],
    ['pkgs/asc.tgz', pkg],
    ['pkgs/asc.tgz.asc', await sign(pkg, good.privateKey, true)],
    ['pkgs/nosig.tgz', pkg],
    ['keys/good.asc', Buffer.from(good.publicKey)],
    ['keys/other.asc', Buffer.from(other.publicKey)],
  ]);
  const o = { repoFiles, timeoutMs: 5000 };
  assert.equal((await obtainPackage('pkgs/app.tgz', 'keys/good.asc', {}, o)).signed, true);
  assert.equal((await obtainPackage('pkgs/asc.tgz', 'keys/good.asc', {}, o)).signed, true);
  await assert.rejects(obtainPackage('pkgs/app.tgz', 'keys/other.asc', {}, o), {
    code: 'AGENT_SIGNATURE_INVALID',
  });
  await assert.rejects(obtainPackage('pkgs/nosig.tgz', 'keys/good.asc', {}, o), {
    code: 'AGENT_SIGNATURE_INVALID',
  });
  await assert.rejects(obtainPackage('pkgs/missing.tgz', undefined, {}, o), {
    code: 'AGENT_PACKAGE_UNREACHABLE',
  });
  const sha = createHash('sha256').update(pkg).digest('hex');
  assert.equal((await obtainPackage(`pkgs/app.tgz#sha256=${sha}`, undefined, {}, o)).sha256, sha);
  await assert.rejects(obtainPackage(`pkgs/app.tgz#sha256=${'1'.repeat(64)}`, undefined, {}, o), {
    code: 'AGENT_CHECKSUM_MISMATCH',
  });
  await assert.rejects(
    obtainPackage('pkgs/app.tgz', undefined, { 'x-margo-gitops-extensions': { sha256: 'ab'.repeat(32) } }, o),
    { code: 'AGENT_CHECKSUM_MISMATCH' },
  );
  const keySha = createHash('sha256').update(good.publicKey).digest('hex');
  assert.equal((await obtainPackage('pkgs/app.tgz', `keys/good.asc#sha256=${keySha}`, {}, o)).signed, true);
  await assert.rejects(obtainPackage('pkgs/app.tgz', `keys/good.asc#sha256=${'2'.repeat(64)}`, {}, o), {
    code: 'AGENT_CHECKSUM_MISMATCH',
  });
  await assert.rejects(obtainPackage('../etc/passwd', undefined, {}, o), {
    code: 'AGENT_PACKAGE_UNREACHABLE',
  });
});

test('obtainPackage over http and file URLs; unpack finds the compose file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pkg-test-'));
  const srv = createServer((req, res) => {
    if (req.url === '/app.tgz') res.end(readFileSync(join(dir, 'app.tgz')));
    else if (req.url === '/boom.tgz') {
      res.statusCode = 500;
      res.end();
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  try {
    // The compose file inside a top-level folder (unpack must find it there).
    const inner = mkdtempSync(join(tmpdir(), 'pkg-inner-'));
    writeFileSync(join(inner, 'docker-compose.yml'), 'services: {}\n');
    await tar.c({ gzip: true, file: join(dir, 'app.tgz'), cwd: join(inner, '..'), portable: true }, [
      inner.split('/').pop()!,
    ]);
    rmSync(inner, { recursive: true, force: true });
    const base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    const o = { repoFiles: new Map(), timeoutMs: 5000 };
    const viaHttp = await obtainPackage(`${base}/app.tgz`, undefined, {}, o);
    const viaFile = await obtainPackage(pathToFileURL(join(dir, 'app.tgz')).href, undefined, {}, o);
    assert.equal(viaHttp.sha256, viaFile.sha256);
    await assert.rejects(obtainPackage(`${base}/nope.tgz`, undefined, {}, o), {
      code: 'AGENT_PACKAGE_UNREACHABLE',
    });
    await assert.rejects(obtainPackage(`${base}/boom.tgz`, undefined, {}, o), {
      code: 'AGENT_PACKAGE_UNREACHABLE',
    });
    const u = await unpackPackage(viaHttp.bytes, join(dir, 'out'));
    assert.equal(u.composeFile, 'docker-compose.yml');
    await assert.rejects(unpackPackage(Buffer.from('not a tar'), join(dir, 'bad')), {
      code: 'AGENT_PACKAGE_INVALID',
    });
  } finally {
    srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
