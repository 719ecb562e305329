import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isMargoError } from '@margo-gitops/spec';
import {
  clientSpiffeId,
  createDeviceKeyAndCsr,
  createRootCA,
  issueServerSvid,
  signDeviceCsr,
} from '@margo-gitops/trust';
import { createAgentLogger } from '../logger.js';
import { RestClient, retryAfterSeconds, type RestClientOptions } from './rest-client.js';
import { sha256 } from './rest-manifest.js';
import { RestDesiredSource } from './rest-source.js';
import { RestStatusSink } from './rest-status-sink.js';

// A real node:https server with our own CA, server SVID and device SVID (2048-bit keys for speed);
// each test sets what it answers. This covers the answers `margo serve` gives only in corner cases
// (503 before any state, a 404 document, 501/422 to writes); the full loop against the real
// server is test/integration/agent/rest-source.test.ts.
let handle: (req: IncomingMessage, res: ServerResponse) => void = (_q, r) => r.end();
let server: Server;
let client: RestClient;
let clientOptions: RestClientOptions;
const dirs: string[] = [];
const seen: string[] = [];

before(async () => {
  const ca = createRootCA({ commonName: 'rest-source test CA', bits: 2048 });
  const id = { trustDomain: 'test.internal', wfmId: 'w1' };
  const svid = issueServerSvid(ca, id, ['127.0.0.1'], { bits: 2048 });
  const dev = createDeviceKeyAndCsr('d1', { bits: 2048 });
  const certPem = signDeviceCsr(ca, dev.csrPem, {
    expectedDeviceId: 'd1',
    spiffeId: clientSpiffeId(id, 'd1'),
  });
  server = createServer(
    { key: svid.keyPem, cert: svid.certPem, ca: [ca.certPem], requestCert: true },
    (req, res) => {
      seen.push(`${req.method} ${req.url}`);
      handle(req, res);
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  clientOptions = {
    apiUrl: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    keyPem: dev.keyPem,
    certPem,
    caCertPem: ca.certPem,
  };
  client = new RestClient(clientOptions);
});

after(async () => {
  client.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const stateDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'rest-source-'));
  dirs.push(d);
  return d;
};
const problem = (res: ServerResponse, status: number, code: string) => {
  res.writeHead(status, { 'content-type': 'application/problem+json' });
  res.end(JSON.stringify({ type: 'x', title: code, status, code }));
};
const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => (isMargoError(e) ? e.code : String(e)),
  );

test('503 is "no version yet"; a 404 document is a transport error, served later it loads', async () => {
  const source = new RestDesiredSource({ client, stateDir: stateDir(), deviceId: 'd1' });
  await source.init();
  handle = (_q, res) => problem(res, 503, 'API_UNAVAILABLE');
  assert.deepEqual(await source.poll(), { version: null, changed: false });

  const doc = Buffer.from('id: a\n');
  const body = Buffer.from(
    JSON.stringify({
      manifestVersion: 9007199254740993,
      bundle: null,
      deployments: [
        {
          deploymentId: 'a',
          digest: sha256(doc),
          sizeBytes: doc.length,
          url: `/api/v1/deployments/a/${sha256(doc)}`,
        },
      ],
    }).replace('9007199254740992', '9007199254740993'),
  );
  let docThere = false;
  handle = (req, res) => {
    if (req.url === '/api/v1/deployments') {
      if (req.headers['if-none-match'] === `"${sha256(body)}"`) return void res.writeHead(304).end();
      res.writeHead(200, { etag: `"${sha256(body)}"` });
      return void res.end(body);
    }
    if (!docThere) return problem(res, 404, 'API_NOT_FOUND');
    res.end(doc);
  };
  const p = await source.poll();
  assert.equal(p.version, `9007199254740993:${sha256(body)}`, 'the exact version beyond 2^53');
  // load throws (the agent tries again at the next poll): never a refusal, never a deletion.
  assert.equal(await codeOf(source.load(p.version!)), 'AGENT_API_REFUSED');
  docThere = true;
  const snap = await source.load(p.version!);
  assert.deepEqual(await snap.verify(), { manifestVersion: '9007199254740993' });
  assert.deepEqual([...snap.files.keys()], ['deployments/a.yaml']);
  await source.settled(p.version!);
  assert.deepEqual(await source.poll(), { version: p.version, changed: false });
});

test('the status sink: 501 and 503 keep the change queued; a 422 drops it; 2xx delivers', async () => {
  const dir = stateDir();
  const logger = createAgentLogger({ level: 'silent', deviceId: 'd1' });
  const sink = new RestStatusSink({ client, stateDir: dir, deviceId: 'd1', logger });
  await sink.init();
  assert.equal(sink.report({ 'deployments/a.json': '{"deploymentId":"a"}\n' }, 'a'), true);
  for (const status of [501, 503]) {
    handle = (_q, res) => problem(res, status, 'API_NOT_IMPLEMENTED');
    assert.equal(await codeOf(sink.flush()), 'AGENT_API_UNREACHABLE');
    assert.equal(sink.pendingChanges(), 1, `${status}: kept`);
  }
  let bodies: string[] = [];
  handle = (req, res) => {
    let b = '';
    req.on('data', (c: Buffer) => (b += c.toString()));
    req.on('end', () => {
      bodies.push(`${req.method} ${req.url} ${req.headers['content-type']} ${b}`);
      if (req.url!.includes('/bad/')) return problem(res, 422, 'API_BODY_SCHEMA_INVALID');
      res.writeHead(201).end();
    });
  };
  assert.equal(await sink.flush(), true);
  assert.deepEqual(bodies, ['POST /api/v1/deployments/a/status application/json {"deploymentId":"a"}\n']);
  assert.equal(sink.pendingChanges(), 0);
  bodies = [];
  assert.equal(sink.report({ 'deployments/bad.json': '{}\n', 'capabilities.json': '{"c":1}\n' }, 'b'), true);
  assert.equal(await sink.flush(), true, 'a refusal is not retried');
  assert.equal(sink.pendingChanges(), 0);
  assert.deepEqual(
    bodies.map((b) => b.split(' ').slice(0, 2).join(' ')),
    ['POST /api/v1/deployments/bad/status', 'PUT /api/v1/capabilities/d1'],
  );
  // A restart knows what was delivered: the same content queues nothing.
  const again = new RestStatusSink({ client, stateDir: dir, deviceId: 'd1', logger });
  await again.init();
  assert.equal(again.report({ 'deployments/a.json': '{"deploymentId":"a"}\n' }, 'a'), false);
});

test('Retry-After: delay-seconds, an HTTP-date, garbage ignored, an hour at most', () => {
  const now = Date.parse('2026-12-03T12:00:00Z');
  const r = (v?: string | string[]) => ({
    status: 429,
    headers: { 'retry-after': v },
    body: Buffer.alloc(0),
  });
  assert.equal(retryAfterSeconds(r('120'), now), 120);
  assert.equal(retryAfterSeconds(r(['7', '9']), now), 7);
  assert.equal(retryAfterSeconds(r('Thu, 03 Dec 2026 12:01:30 GMT'), now), 90);
  assert.equal(retryAfterSeconds(r('Thu, 03 Dec 2026 11:00:00 GMT'), now), 0, 'a date past is now');
  assert.equal(retryAfterSeconds(r('999999'), now), 3600, 'capped: a wrong header cannot silence a device');
  for (const bad of [undefined, '', '-5', '1.5', 'soon', '12abc'])
    assert.equal(retryAfterSeconds(r(bad), now), undefined, String(bad));
});

test('429 with Retry-After: nothing is sent until then (polls and status posts alike), then again', async () => {
  let t = Date.parse('2026-12-03T12:00:00Z');
  const c = new RestClient({ ...clientOptions, now: () => t });
  try {
    const source = new RestDesiredSource({ client: c, stateDir: stateDir(), deviceId: 'd1' });
    await source.init();
    let hits = 0;
    handle = (_q, res) => {
      hits++;
      res.setHeader('retry-after', '120');
      problem(res, 429, 'API_RATE_LIMITED');
    };
    const first = await source.poll().then(
      () => assert.fail('a 429 is not a poll'),
      (e: unknown) => e,
    );
    assert.ok(isMargoError(first) && first.code === 'AGENT_API_UNREACHABLE');
    assert.equal(first.data?.retryAfterSeconds, 120, 'the agent backs off at least this long');
    t += 60_000;
    const held = await source.poll().then(
      () => assert.fail('sent while the server asked for quiet'),
      (e: unknown) => e,
    );
    assert.ok(isMargoError(held) && held.code === 'AGENT_API_THROTTLED', String(held));
    assert.equal(held.data?.retryAfterSeconds, 60);
    const sink = new RestStatusSink({
      client: c,
      stateDir: stateDir(),
      deviceId: 'd1',
      logger: createAgentLogger({ level: 'silent', deviceId: 'd1' }),
    });
    await sink.init();
    sink.report({ 'deployments/a.json': '{"deploymentId":"a"}\n' }, 'a');
    assert.equal(await codeOf(sink.flush()), 'AGENT_API_THROTTLED', 'the status stays queued');
    assert.equal(hits, 1, 'nothing reached the server while it asked for quiet');
    t += 60_001;
    handle = (_q, res) => {
      hits++;
      problem(res, 503, 'API_UNAVAILABLE');
    };
    assert.deepEqual(await source.poll(), { version: null, changed: false });
    assert.equal(hits, 2, 'sent again once the time is up');
  } finally {
    c.close();
  }
});
