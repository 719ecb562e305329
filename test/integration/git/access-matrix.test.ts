/**
 * ACCESS MATRIX: every role × every repository × read / write (main, status) with stock git
 * (NativeGitStore drives the git binary) and with isomorphic-git (IsoGitStore). Allowed cells must
 * work; denied cells must be refused and leave the repository byte-for-byte as it was (refs and
 * object count).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { IsoGitStore, NativeGitStore, type GitStore, type Role } from '@margo-gitops/git';
import { author, snapshot, startEnv, tempDir } from './helpers.ts';

type Op = 'read' | 'main' | 'status';
const repos = {
  catalog: 'catalog.git',
  fleet: 'fleet.git',
  own: 'devices/d1.git',
  other: 'devices/d2.git',
} as const;
// role -> repo -> allowed ops (the device token belongs to d1)
const allowed: Record<Role, Record<keyof typeof repos, Op[]>> = {
  admin: {
    catalog: ['read', 'main', 'status'],
    fleet: ['read', 'main', 'status'],
    own: ['read', 'main', 'status'],
    other: ['read', 'main', 'status'],
  },
  publisher: { catalog: ['read', 'main', 'status'], fleet: [], own: [], other: [] },
  operator: { catalog: ['read'], fleet: ['read', 'main', 'status'], own: ['read'], other: ['read'] },
  viewer: { catalog: ['read'], fleet: ['read'], own: [], other: [] },
  device: { catalog: [], fleet: [], own: ['read', 'status'], other: [] },
};
const clients: { name: string; make: (d: string) => GitStore }[] = [
  { name: 'stock git', make: (d) => new NativeGitStore(d) },
  { name: 'isomorphic-git', make: (d) => new IsoGitStore(d) },
];

test(
  'access matrix: every role x repository x operation, stock git and isomorphic-git',
  { timeout: 180_000 },
  async (t) => {
    const env = await startEnv(t);
    const work = await tempDir(t);
    let n = 0;
    const failures: string[] = [];
    for (const client of clients) {
      for (const role of Object.keys(allowed) as Role[]) {
        for (const [repoKey, repoName] of Object.entries(repos) as [keyof typeof repos, string][]) {
          for (const op of ['read', 'main', 'status'] as Op[]) {
            const expectOk = allowed[role][repoKey].includes(op);
            const cell = `${client.name} ${role} ${op} ${repoName} (expect ${expectOk ? 'allowed' : 'denied'})`;
            const gitdir = join(env.repos, repoName);
            const before = await snapshot(gitdir);
            const auth = { token: env.token[role] };
            let ok = true;
            let err: { code?: string; message?: string } | undefined;
            let pushed: string | undefined;
            try {
              if (op === 'read') {
                const s = client.make(join(work, `r${n++}.git`));
                const r = await s.clone(env.url(repoName), { auth, ref: 'main' });
                assert.ok(r.oid);
                assert.equal((await s.readFile('main', 'README.md'))?.toString(), `${repoName}\n`);
              } else {
                // a fast-forward commit on top of the branch, prepared locally from the repository on disk
                const local = new NativeGitStore(join(work, `w${n++}.git`));
                await local.init();
                await local.fetch(gitdir, { ref: op });
                const head = await local.resolveRef(op);
                const c = await local.commitFiles({
                  ref: op,
                  expectedOid: head,
                  // a device's status branch takes status files only (the server's tree rules)
                  changes: new Map([
                    [
                      repoName.startsWith('devices/') && op === 'status'
                        ? `deployments/cell-${n}.json`
                        : `cell-${n}.txt`,
                      cell,
                    ],
                  ]),
                  message: cell,
                  author,
                });
                pushed = c.oid;
                await client.make(local.dir).push(env.url(repoName), op, { auth });
              }
            } catch (e) {
              ok = false;
              err = e as { code?: string; message?: string };
            }
            const after = await snapshot(gitdir);
            if (ok !== expectOk)
              failures.push(`${cell}: got ${ok ? 'allowed' : `denied (${err?.code}: ${err?.message})`}`);
            if (!ok && !['GIT_ACCESS_DENIED', 'GIT_PUSH_REJECTED'].includes(err?.code ?? ''))
              failures.push(`${cell}: unexpected error ${err?.code}: ${err?.message}`);
            if (!expectOk && before !== after)
              failures.push(`${cell}: a denied request changed the repository`);
            if (expectOk && op !== 'read') {
              const ref = (await new NativeGitStore(gitdir).resolveRef(op)) ?? '';
              if (ref !== pushed)
                failures.push(`${cell}: ref ${op} is ${ref}, expected the pushed ${pushed}`);
            }
          }
        }
      }
    }
    assert.deepEqual(failures, []);
    assert.equal(n > 0, true);
  },
);
