import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { run } from './validate.js';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'margo-validate-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s) }, out, err };
}

const GOOD_STATUS = JSON.stringify({
  apiVersion: 'deployment.margo/v1',
  kind: 'DeploymentStatus',
  deploymentId: 'a3e2f5dc-912e-494f-8395-52cf3769bc06',
  status: { state: 'installed' },
  components: [{ name: 'web', state: 'installed' }],
});

test('usage errors exit 2', async () => {
  let c = capture();
  assert.equal(await run([], {}, c.io), 2);
  assert.match(c.err.join(''), /give at least one file/);
  c = capture();
  assert.equal(await run([join(root, 'does-not-exist')], {}, c.io), 2);
  assert.match(c.err.join(''), /no such file or folder/);
  c = capture();
  assert.equal(await run([root], { output: 'xml' as never }, c.io), 2);
});

test('valid files exit 0 with a summary on stderr and nothing on stdout', async () => {
  const dir = join(root, 'ok');
  await mkdir(dir);
  await writeFile(join(dir, 'status.json'), GOOD_STATUS);
  const c = capture();
  assert.equal(await run([dir], { output: 'text' }, c.io), 0);
  assert.equal(c.out.join(''), '');
  assert.match(c.err.join(''), /1 file checked: 1 valid, 0 invalid/);
});

test('invalid files exit 1 and print file:line:col: severity CODE message', async () => {
  const dir = join(root, 'bad');
  await mkdir(dir);
  await writeFile(join(dir, 'status.json'), GOOD_STATUS);
  await writeFile(
    join(dir, 'dep.yaml'),
    'apiVersion: application.margo.org/v1alpha1\nkind: SomethingErroneous\nmetadata:\n  name: x\n',
  );
  await writeFile(join(dir, 'empty.yaml'), '');
  const c = capture();
  assert.equal(await run([dir], {}, c.io), 1);
  const lines = c.out.join('').trim().split('\n');
  assert.ok(
    lines.includes(
      `${join(dir, 'dep.yaml')}:2:7: error SPEC_UNKNOWN_KIND kind "SomethingErroneous" is not a Margo kind; the document looks like ApplicationDeployment, so set kind to that`,
    ),
    lines.join('\n'),
  );
  assert.ok(
    lines.includes(`${join(dir, 'empty.yaml')}: error SPEC_EMPTY_DOCUMENT the file is empty`),
    lines.join('\n'),
  );
  for (const l of lines) assert.match(l, /^\S+?(:\d+:\d+)?: (error|warning|info) [A-Z_]+ /);
  assert.match(c.err.join(''), /3 files checked: 1 valid, 2 invalid/);
});

test('-o json prints findings as JSON', async () => {
  const dir = join(root, 'json');
  await mkdir(dir);
  await writeFile(join(dir, 'a.yaml'), 'kind: [oops\n');
  await writeFile(join(dir, 'b.json'), GOOD_STATUS);
  const c = capture();
  assert.equal(await run([join(dir, 'a.yaml'), join(dir, 'b.json')], { output: 'json' }, c.io), 1);
  const doc = JSON.parse(c.out.join(''));
  assert.equal(doc.valid, false);
  assert.equal(doc.summary.files, 2);
  assert.equal(doc.summary.invalid, 1);
  assert.ok(doc.summary.errors >= 1);
  assert.equal(doc.files[0].file, join(dir, 'a.yaml'));
  assert.equal(doc.files[0].findings[0].code, 'SPEC_YAML_SYNTAX');
  assert.equal(doc.files[0].findings[0].hint, 'Fix the syntax at the reported position.');
  assert.equal(typeof doc.files[0].findings[0].line, 'number');
  assert.equal(doc.files[1].kind, 'DeploymentStatus');
  assert.equal(doc.files[1].valid, true);
});

test('plain stdout/stderr streams work as io', async () => {
  const dir = join(root, 'streams');
  await mkdir(dir);
  await writeFile(join(dir, 'status.json'), GOOD_STATUS);
  let out = '';
  let err = '';
  const code = await run(
    [dir],
    {},
    { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } },
  );
  assert.equal(code, 0);
  assert.equal(out, '');
  assert.match(err, /1 valid/);
});
