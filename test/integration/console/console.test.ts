// The console's server side (/ui on margo serve) against a real server with real Git repositories:
// sign-in with each role and the 401/403 paths, CSRF refusals, the JSON read shapes, a rollback that
// makes exactly one fleet commit naming the person's token (checked with git log), a viewer's
// rollback refused with nothing committed, a revoked token ending its session, and the event stream
// (a `fleet` event after a change, none while nothing changes). No device agent runs here: devices
// are added to the fleet but never report (they show as `never`), which the shapes allow.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Browser, ok, repoRoot, signedIn, startWorld, type World } from './world.js';

let w: World;
let revisions: string[] = [];

before(async () => {
  w = await startWorld();
  await ok(w.margo('app', 'publish', join(repoRoot, 'examples/hello-world')));
  await ok(w.margo('device', 'add', 'dev1', '--label', 'site=north'));
  await ok(w.margo('device', 'add', 'dev2', '--label', 'site=south'));
  await ok(w.margo('deploy', 'hello-world', '--name', 'hello', '--device', 'dev1', '--set', 'GREETING=one'));
  await ok(w.margo('deploy', 'hello-world', '--name', 'hello', '--device', 'dev1', '--set', 'GREETING=two'));
  revisions = w.git('fleet.git', 'log', '--format=%H', 'main', '--', 'deployments/hello.yaml').split('\n');
});

after(async () => {
  await w?.close();
});

/** A viewer's POST to `path` is refused (403 CONSOLE_FORBIDDEN) and the fleet head does not move. */
async function viewerRefused(path: string): Promise<void> {
  const b = await signedIn(w.url, w.tokens.viewer);
  const head = w.git('fleet.git', 'rev-parse', 'main');
  const r = await b.call('POST', path, {});
  assert.equal(r.status, 403);
  assert.equal(r.body.code, 'CONSOLE_FORBIDDEN');
  assert.equal(w.git('fleet.git', 'rev-parse', 'main'), head);
}

/** The commit's trailers name the console and the token's id (`mgt_<id>_<secret>`). */
function assertConsoleTrailers(commit: string, token: string): void {
  const trailer = (key: string) =>
    w.git('fleet.git', 'log', '-1', `--format=%(trailers:key=${key},valueonly)`, commit);
  assert.equal(trailer('Margo-Token'), token.split('_')[1]);
  assert.equal(trailer('Margo-Via'), 'console');
}

describe('sign-in and roles', () => {
  for (const role of ['admin', 'operator', 'viewer'] as const) {
    it(`a ${role} token signs in; the session cookie is HttpOnly, SameSite=Strict, Path=/ui`, async () => {
      const b = new Browser(w.url);
      const r = await b.signIn(w.tokens[role]);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.role, role);
      assert.equal(typeof r.body.name, 'string');
      const set = r.headers.get('set-cookie')!;
      assert.match(set, /^margo_session=[A-Za-z0-9_-]{43};/);
      for (const flag of ['HttpOnly', 'SameSite=Strict', 'Path=/ui']) assert.ok(set.includes(flag), set);
      assert.ok(!set.includes('Secure'), 'plain http: no Secure flag');
      assert.ok(!JSON.stringify(r.body).includes(w.tokens[role]), 'the token is not echoed');
      const s = await b.call('GET', '/ui/api/session');
      assert.equal(s.status, 200);
      assert.equal(s.body.role, role);
      assert.equal(s.headers.get('cache-control'), 'no-store');
      const out = await b.call('DELETE', '/ui/api/session');
      assert.equal(out.status, 200);
      assert.equal((await b.call('GET', '/ui/api/session')).status, 401);
    });
  }

  it('a publisher token is refused (403 CONSOLE_ROLE_NOT_ALLOWED), a wrong one 401, no session 401', async () => {
    const b = new Browser(w.url);
    const p = await b.signIn(w.tokens.publisher);
    assert.equal(p.status, 403);
    assert.equal(p.body.code, 'CONSOLE_ROLE_NOT_ALLOWED');
    assert.equal(p.headers.get('set-cookie'), null);
    const wrong = await b.signIn(w.tokens.viewer.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')));
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.code, 'CONSOLE_UNAUTHENTICATED');
    for (const path of ['/ui/api/overview', '/ui/api/devices', '/ui/api/session', '/ui/api/events']) {
      const r = await new Browser(w.url).call('GET', path);
      assert.equal(r.status, 401, path);
      assert.equal(r.body.code, 'CONSOLE_UNAUTHENTICATED');
    }
    const forged = await new Browser(w.url).call('GET', '/ui/api/overview', undefined, {
      cookie: 'margo_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    });
    assert.equal(forged.status, 401);
  });

  it('a bearer token works on /ui/api/* (scripts, benches); a device-less publisher bearer is refused', async () => {
    const b = new Browser(w.url);
    const r = await b.call('GET', '/ui/api/overview', undefined, {
      authorization: `Bearer ${w.tokens.viewer}`,
    });
    assert.equal(r.status, 200);
    const p = await b.call('GET', '/ui/api/overview', undefined, {
      authorization: `Bearer ${w.tokens.publisher}`,
    });
    assert.equal(p.status, 403);
  });

  it('CSRF: a changing request without x-margo-console, or from another origin, is refused', async () => {
    const b = new Browser(w.url);
    const noHeader = await b.call(
      'POST',
      '/ui/api/session',
      { token: w.tokens.viewer },
      { 'x-margo-console': '' },
    );
    assert.equal(noHeader.status, 403);
    assert.equal(noHeader.body.code, 'CONSOLE_CSRF');
    const foreign = await b.call(
      'POST',
      '/ui/api/session',
      { token: w.tokens.viewer },
      { origin: 'https://evil.example' },
    );
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.code, 'CONSOLE_CSRF');
    const same = await b.call('POST', '/ui/api/session', { token: w.tokens.viewer }, { origin: w.url });
    assert.equal(same.status, 200);
    const fleetHead = w.git('fleet.git', 'rev-parse', 'main');
    const op = await signedIn(w.url, w.tokens.operator);
    const rb = await op.call('POST', '/ui/api/deployments/hello/rollback', {}, { 'x-margo-console': '0' });
    assert.equal(rb.status, 403);
    assert.equal(rb.body.code, 'CONSOLE_CSRF');
    assert.equal(w.git('fleet.git', 'rev-parse', 'main'), fleetHead, 'nothing committed');
  });
});

describe('reads', () => {
  let b: Browser;
  before(async () => {
    b = new Browser(w.url);
    assert.equal((await b.signIn(w.tokens.viewer)).status, 200);
  });

  it('overview: devices by freshness, deployments, problems; security headers', async () => {
    const r = await b.call('GET', '/ui/api/overview');
    assert.equal(r.status, 200);
    const o = r.body;
    assert.equal(o.fleetCommit, w.git('fleet.git', 'rev-parse', 'main'));
    assert.equal(o.devices.total, 2);
    assert.equal(o.devices.never, 2);
    assert.equal(o.devices.reporting, 0);
    for (const k of ['stale', 'held', 'withProblems']) assert.equal(typeof o.devices[k], 'number');
    const hello = o.deployments.find((d: { name: string }) => d.name === 'hello');
    assert.equal(hello.app, 'hello-world');
    assert.equal(hello.version, '1.0.0');
    assert.equal(hello.targets, 1);
    assert.ok(Array.isArray(o.problems) && o.problems.length <= 50);
    assert.match(r.headers.get('content-security-policy')!, /default-src 'self'.*frame-ancestors 'none'/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
  });

  it('devices: filter, search, paging, limit bounds', async () => {
    const all = await b.call('GET', '/ui/api/devices');
    assert.equal(all.status, 200);
    assert.equal(all.body.total, 2);
    assert.deepEqual(
      all.body.items.map((d: { deviceId: string }) => d.deviceId),
      ['dev1', 'dev2'],
    );
    assert.equal(all.body.items[0].reporting, false);
    assert.equal(all.body.items[0].freshness, 'never');
    assert.equal((await b.call('GET', '/ui/api/devices?q=V2')).body.items[0].deviceId, 'dev2');
    assert.equal((await b.call('GET', '/ui/api/devices?filter=reporting')).body.total, 0);
    const page = await b.call('GET', '/ui/api/devices?offset=1&limit=1');
    assert.deepEqual([page.body.total, page.body.offset, page.body.items.length], [2, 1, 1]);
    assert.equal((await b.call('GET', '/ui/api/devices?limit=501')).body.code, 'CONSOLE_BAD_REQUEST');
    assert.equal((await b.call('GET', '/ui/api/devices?filter=odd')).status, 400);
  });

  it('device page: labels, capabilities (null before any report), deployments, history', async () => {
    const r = await b.call('GET', '/ui/api/devices/dev1');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const d = r.body;
    assert.deepEqual(d.labels, { site: 'north' });
    assert.equal(d.capabilities, null);
    assert.equal(d.reporting, false);
    assert.equal(d.deployments.length, 1);
    assert.equal(d.deployments[0].name, 'hello');
    assert.equal(d.deployments[0].app, 'hello-world');
    assert.ok(Array.isArray(d.deployments[0].components));
    // Without capabilities (no agent reported) the deployment is held: whatever main holds is listed.
    let expected: string[] = [];
    try {
      expected = w.git('devices/dev1.git', 'log', '--format=%H', 'main').split('\n').filter(Boolean);
    } catch {
      /* no main yet */
    }
    assert.deepEqual(
      d.history.desired.map((c: { commit: string }) => c.commit),
      expected,
    );
    for (const c of d.history.desired) assert.match(c.at, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(d.history.status, []);
    assert.equal((await b.call('GET', '/ui/api/devices/nope')).body.code, 'CONSOLE_NOT_FOUND');
  });

  it('device page: status history names the transport; capabilities as the device reported them', async () => {
    // A status commit as the Workload Management API writes one (Margo-Transport: rest), made
    // with git plumbing on the device's repository (no agent runs here).
    const repo = join(w.data, 'repos', 'devices', 'dev2.git');
    const blob = execFileSync('git', ['--git-dir', repo, 'hash-object', '-w', '--stdin'], {
      input: JSON.stringify({ kind: 'DeviceCapabilities', properties: { id: 'dev2', vendor: 'Acme' } }),
      encoding: 'utf8',
    }).trim();
    const tree = execFileSync('git', ['--git-dir', repo, 'mktree'], {
      input: `100644 blob ${blob}\tcapabilities.json\n`,
      encoding: 'utf8',
    }).trim();
    const commit = execFileSync(
      'git',
      [
        '--git-dir',
        repo,
        '-c',
        'user.name=dev2 (api)',
        '-c',
        'user.email=dev2@x',
        'commit-tree',
        tree,
        '-m',
        'capabilities (api)\n\nMargo-Transport: rest',
      ],
      { encoding: 'utf8' },
    ).trim();
    w.git('devices/dev2.git', 'update-ref', 'refs/heads/status', commit);
    const d = (await b.call('GET', '/ui/api/devices/dev2')).body;
    assert.deepEqual(d.history.status, [
      { commit, at: d.history.status[0]?.at, subject: 'capabilities (api)', transport: 'api' },
    ]);
    assert.equal(d.capabilities.properties.vendor, 'Acme');
  });

  it('deployment page: parameters, rows, revisions newest first; diff between two revisions', async () => {
    const r = await b.call('GET', '/ui/api/deployments/hello');
    assert.equal(r.status, 200);
    const d = r.body;
    assert.equal(d.app, 'hello-world');
    assert.deepEqual(d.parameters, [{ name: 'GREETING', value: 'two', secret: false }]);
    assert.deepEqual(
      d.rows.map((x: { deviceId: string }) => x.deviceId),
      ['dev1'],
    );
    assert.equal(d.rollout, null);
    assert.deepEqual(
      d.revisions.map((x: { commit: string }) => x.commit),
      revisions,
    );
    assert.match(d.revisions[0].author, /margo cli/);
    const diff = await b.call(
      'GET',
      `/ui/api/deployments/hello/diff?from=${revisions[1]}&to=${revisions[0]}`,
    );
    assert.equal(diff.status, 200);
    assert.equal(diff.body.from, revisions[1]);
    assert.match(diff.body.patch, /^--- a\/deployments\/hello\.yaml\n\+\+\+ b\/deployments\/hello\.yaml\n@@/);
    assert.match(diff.body.patch, /^-\s+GREETING: one$/m);
    assert.match(diff.body.patch, /^\+\s+GREETING: two$/m);
    const created = await b.call('GET', `/ui/api/deployments/hello/diff?to=${revisions[1]}`);
    assert.match(created.body.patch, /^--- \/dev\/null/);
    const unknown = await b.call(
      'GET',
      `/ui/api/deployments/hello/diff?from=${'0'.repeat(40)}&to=${revisions[0]}`,
    );
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'CONSOLE_NOT_FOUND');
    assert.equal((await b.call('GET', '/ui/api/deployments/nothere')).status, 404);
  });

  it('catalog: applications with versions; an application with its description (markdown source)', async () => {
    const l = await b.call('GET', '/ui/api/catalog');
    assert.deepEqual(l.body.apps, [
      {
        id: 'hello-world',
        name: 'Hello world',
        latest: '1.0.0',
        versions: [{ version: '1.0.0', yanked: false }],
      },
    ]);
    const a = await b.call('GET', '/ui/api/catalog/hello-world');
    assert.equal(a.status, 200);
    assert.equal(a.body.name, 'Hello world');
    assert.ok(a.body.description.length > 0);
    assert.match(a.body.versions[0].publishedAt, /^\d{4}-/);
    assert.equal((await b.call('GET', '/ui/api/catalog/none')).status, 404);
  });
});

describe('rollback', () => {
  it('a viewer is refused (403 CONSOLE_FORBIDDEN) and nothing is committed', async () => {
    await viewerRefused('/ui/api/deployments/hello/rollback');
  });

  it('an operator rolls back: one fleet commit, authored "<name> (margo console)" with the token id as trailer', async () => {
    const b = await signedIn(w.url, w.tokens.operator);
    const head = w.git('fleet.git', 'rev-parse', 'main');
    const r = await b.call('POST', '/ui/api/deployments/hello/rollback', { to: revisions[1] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.from, revisions[1]);
    assert.equal(r.body.present, true);
    const newHead = w.git('fleet.git', 'rev-parse', 'main');
    assert.equal(r.body.commit, newHead);
    assert.equal(w.git('fleet.git', 'rev-list', '--count', `${head}..${newHead}`), '1');
    assert.equal(w.git('fleet.git', 'log', '-1', '--format=%an', newHead), 'Olga Operator (margo console)');
    assertConsoleTrailers(newHead, w.tokens.operator);
    const body = w.git('fleet.git', 'log', '-1', '--format=%B', newHead);
    assert.ok(!body.includes(w.tokens.operator.split('_')[2]!), 'the secret never reaches a commit');
    assert.deepEqual(w.git('fleet.git', 'diff', '--name-only', head, newHead).split('\n'), [
      'deployments/hello.yaml',
    ]);
    assert.match(w.git('fleet.git', 'show', 'main:deployments/hello.yaml'), /GREETING: one/);
    // The CLI shares the same core: `margo rollback hello` now undoes the console's change.
    const cli = JSON.parse(await ok(w.margo('rollback', 'hello', '-o', 'json'))) as {
      from: string;
      commit: string;
    };
    assert.equal(cli.from, newHead);
    assert.equal(cli.commit, w.git('fleet.git', 'rev-parse', 'main'));
    assert.match(w.git('fleet.git', 'log', '-1', '--format=%an', cli.commit), /\(margo cli\)$/);
    assert.equal(
      w.git('fleet.git', 'log', '-1', '--format=%(trailers:key=Margo-Via,valueonly)', cli.commit),
      '',
    );
    assert.match(w.git('fleet.git', 'show', 'main:deployments/hello.yaml'), /GREETING: two/);
  });

  it('a refused rollback answers the CLI code: unknown revision 404, nothing to roll back 409', async () => {
    const b = await signedIn(w.url, w.tokens.admin);
    const head = w.git('fleet.git', 'rev-parse', 'main');
    const r = await b.call('POST', '/ui/api/deployments/hello/rollback', { to: 'abcdef012345' });
    assert.equal(r.status, 404);
    assert.equal(r.body.code, 'CLI_REVISION_NOT_FOUND');
    const bad = await b.call('POST', '/ui/api/deployments/hello/rollback', { to: 'HEAD~1' });
    assert.equal(bad.body.code, 'CONSOLE_BAD_REQUEST');
    const none = await b.call('POST', '/ui/api/deployments/ghost/rollback', {});
    assert.equal(none.body.code, 'CLI_DEPLOYMENT_NOT_FOUND');
    assert.equal(w.git('fleet.git', 'rev-parse', 'main'), head);
  });
});

describe('sessions end with their token', () => {
  it('revoking the token ends the session at its next request', async () => {
    const t = w.store.issueToken('viewer', { name: 'Short Lived' });
    const b = new Browser(w.url);
    assert.equal((await b.signIn(t.token)).status, 200);
    assert.equal((await b.call('GET', '/ui/api/overview')).status, 200);
    await ok(w.margo('token', 'revoke', t.record.id, '--data', w.data));
    // The server re-reads the token file at most once a second.
    await new Promise((r) => setTimeout(r, 1100));
    const r = await b.call('GET', '/ui/api/overview');
    assert.equal(r.status, 401);
    assert.equal(r.body.code, 'CONSOLE_UNAUTHENTICATED');
  });
});

/** Reads server-sent events from /ui/api/events into a list. */
async function openEvents(b: Browser) {
  const ac = new AbortController();
  const res = await fetch(`${w.url}/ui/api/events`, { headers: { cookie: b.cookie! }, signal: ac.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/event-stream/);
  const events: { event: string; data: any }[] = [];
  const reader = res.body!.getReader();
  let buf = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += Buffer.from(value).toString('utf8');
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event) events.push({ event, data: data ? JSON.parse(data) : undefined });
        }
      }
    } catch {
      /* aborted */
    }
  })();
  return { events, close: () => ac.abort() };
}

const until = async (what: string, f: () => boolean, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('live events', () => {
  it('hello at once; a fleet event after a change naming what changed; nothing while nothing changes', async () => {
    const b = await signedIn(w.url, w.tokens.viewer);
    const s = await openEvents(b);
    try {
      await until('hello', () => s.events.some((e) => e.event === 'hello'));
      assert.equal(s.events[0]!.event, 'hello');
      // Let the baseline roll-up settle, then watch a quiet fleet.
      await new Promise((r) => setTimeout(r, 1500));
      const quietFrom = s.events.length;
      await new Promise((r) => setTimeout(r, 2500));
      assert.deepEqual(s.events.slice(quietFrom), [], 'no event while nothing changed');
      await ok(w.margo('deploy', 'hello-world', '--name', 'hello2', '--device', 'dev2'));
      await until('a fleet event naming hello2', () =>
        s.events.some((e) => e.event === 'fleet' && e.data.deployments.includes('hello2')),
      );
      const e = s.events.find((x) => x.event === 'fleet' && x.data.deployments.includes('hello2'))!;
      assert.equal(e.data.fleetCommit, w.git('fleet.git', 'rev-parse', 'main'));
      assert.ok(Array.isArray(e.data.devices));
    } finally {
      s.close();
    }
  });
});

describe('static files', () => {
  it('/ui and deep links answer the UI (or 503 CONSOLE_ASSETS_MISSING when not built), with the CSP', async () => {
    for (const path of ['/ui', '/ui/', '/ui/devices/dev1']) {
      const r = await fetch(`${w.url}${path}`);
      assert.ok(r.status === 200 || r.status === 503, `${path}: ${r.status}`);
      if (r.status === 200) assert.match(r.headers.get('content-type')!, /text\/html/);
      else assert.equal(((await r.json()) as { code: string }).code, 'CONSOLE_ASSETS_MISSING');
      assert.match(r.headers.get('content-security-policy')!, /script-src 'self'/);
    }
    const traversal = await fetch(`${w.url}/ui/assets/..%2f..%2fpackage.json`);
    assert.equal(traversal.status, 404);
  });
});

describe('rollout steering', () => {
  it('an operator pauses a rollout (one commit with the trailers); a viewer is refused', async () => {
    const flags = ['--device', 'dev1', '--device', 'dev2', '--canary', 'dev1', '--manual-gate'];
    await ok(w.margo('deploy', 'hello-world', '--name', 'ro', ...flags, '--set', 'GREETING=a'));
    await ok(w.margo('deploy', 'hello-world', '--name', 'ro', ...flags, '--set', 'GREETING=b'));
    await until('the orchestrator starting the rollout', () => {
      try {
        return w.git('fleet.git', 'cat-file', '-e', 'main:rollouts/ro.json') === '';
      } catch {
        return false;
      }
    });
    await viewerRefused('/ui/api/rollouts/ro/pause');
    const op = await signedIn(w.url, w.tokens.operator);
    const r = await op.call('POST', '/ui/api/rollouts/ro/pause', {});
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.phase, 'paused');
    assert.equal(r.body.by, 'Olga Operator (margo console)');
    assert.equal(
      w.git('fleet.git', 'log', '-1', '--format=%an', r.body.commit),
      'Olga Operator (margo console)',
    );
    assertConsoleTrailers(r.body.commit, w.tokens.operator);
    assert.equal((await op.call('POST', '/ui/api/rollouts/ro/explode', {})).status, 404);
    assert.equal(
      (await op.call('POST', '/ui/api/rollouts/none/pause', {})).body.code,
      'CLI_ROLLOUT_NOT_FOUND',
    );
    const d = await op.call('GET', '/ui/api/deployments/ro');
    assert.equal(d.body.rollout.name, 'ro');
  });
});
