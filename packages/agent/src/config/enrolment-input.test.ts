import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { readEnrolmentString, readStream, REFUSE_ARGV_TOKEN_ENV } from './enrolment-input.js';

const S = 'mge1.press-7.AAAAAAAAAAAAAAAA.secret.fp';

function io(env: NodeJS.ProcessEnv = {}, stdin = '') {
  const warnings: string[] = [];
  let stdinRead = 0;
  return {
    warnings,
    stdinReads: () => stdinRead,
    io: {
      env,
      warn: (m: string) => void warnings.push(m),
      readStdin: async () => (stdinRead++, stdin),
    },
  };
}

test('enrolment string from a file, standard input or argv (warned, or refused on request)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'margo-enrol-input-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'enrolment');
  await writeFile(file, `\n${S}\n`, { mode: 0o600 });

  const a = io();
  assert.equal(await readEnrolmentString({ tokenFile: file }, a.io), S);
  assert.deepEqual(a.warnings, []);
  await chmod(file, 0o644);
  assert.equal(await readEnrolmentString({ tokenFile: file }, a.io), S);
  assert.match(a.warnings[0]!, /readable by other users/);

  const b = io({}, `${S}\r\n`);
  assert.equal(await readEnrolmentString({ tokenFile: '-' }, b.io), S);
  assert.equal(b.stdinReads(), 1);

  const c = io();
  assert.equal(await readEnrolmentString({ token: S }, c.io), S);
  assert.match(c.warnings[0]!, /visible to other users \(ps\)/);
  await assert.rejects(readEnrolmentString({ token: S }, io({ [REFUSE_ARGV_TOKEN_ENV]: '1' }).io), {
    code: 'USAGE_ERROR',
  });

  assert.equal(await readEnrolmentString({}, io().io), undefined);
  for (const bad of [
    { token: S, tokenFile: file },
    { tokenFile: join(dir, 'missing') },
    { tokenFile: '-' }, // empty standard input
  ])
    await assert.rejects(readEnrolmentString(bad, io().io), { code: 'USAGE_ERROR' }, JSON.stringify(bad));
  await assert.rejects(readEnrolmentString({ tokenFile: '-' }, io({}, 'x'.repeat(5000)).io), {
    code: 'USAGE_ERROR',
  });
  assert.equal(await readStream(Readable.from([Buffer.from('ab'), Buffer.from('c')])), 'abc');
});
