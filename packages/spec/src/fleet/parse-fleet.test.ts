import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDeploymentIntent, parseFleet, parseFleetDevice, type FleetParseCache } from './index.js';

test('device: valid document with defaults', () => {
  const r = parseFleetDevice(
    'kind: Device\nid: edge-1\nrole: standalone-device\nlabels: {site: a}\n',
    'devices/edge-1.yaml',
  );
  assert.deepEqual(r.findings, []);
  assert.equal(r.value?.expectedReportSeconds, 300);
  assert.deepEqual(r.value?.labels, { site: 'a' });
});

const deviceCases: { name: string; text: string; code: string; line?: number }[] = [
  { name: 'bad yaml', text: 'kind: Device\nid: [\n', code: 'ORCH_FLEET_YAML_INVALID' },
  { name: 'wrong kind', text: 'kind: Deployment\nid: edge-1\n', code: 'ORCH_FLEET_KIND', line: 1 },
  { name: 'bad role', text: 'kind: Device\nid: edge-1\nrole: toaster\n', code: 'ORCH_FLEET_SCHEMA', line: 3 },
  { name: 'unknown field', text: 'kind: Device\nid: edge-1\ncolour: red\n', code: 'ORCH_FLEET_SCHEMA' },
  {
    name: 'file name mismatch',
    text: 'kind: Device\nid: edge-2\n',
    code: 'ORCH_FLEET_NAME_MISMATCH',
    line: 2,
  },
];
for (const c of deviceCases) {
  test(`device: ${c.name} -> ${c.code}`, () => {
    const r = parseFleetDevice(c.text, 'devices/edge-1.yaml');
    const f = r.findings.find((x) => x.code === c.code);
    assert.ok(f, JSON.stringify(r.findings));
    if (c.line) assert.equal(f.line, c.line);
    assert.equal(f.file, 'devices/edge-1.yaml');
  });
}

const intent = `kind: Deployment
name: web
application: {id: hello, version: ^1.2}
targets:
  devices: [edge-1]
  selector:
    matchLabels: {site: a}
    matchExpressions:
      - {key: tier, operator: In, values: [gold, 1]}
profile: docker-compose
parameters: {greeting: hi, replicas: 2}
secrets:
  password:
    sealed: {edge-1: "sealed:v1:abc"}
dependsOn: [db]
`;

test('deployment: valid intent normalised', () => {
  const r = parseDeploymentIntent(intent, 'deployments/web.yaml');
  assert.deepEqual(r.findings, []);
  assert.equal(r.value?.profile, 'compose');
  assert.equal(r.value?.application.version, '^1.2');
  assert.deepEqual(r.value?.targets.selector?.matchExpressions?.[0]?.values, ['gold', '1']);
  assert.equal(r.value?.secrets.password?.sealed['edge-1'], 'sealed:v1:abc');
});

test('deployment: plaintext secret is refused with its position', () => {
  const r = parseDeploymentIntent(intent.replace('"sealed:v1:abc"', 'hunter2'), 'deployments/web.yaml');
  assert.equal(r.value, undefined);
  const f = r.findings.find((x) => x.code === 'ORCH_FLEET_SECRET_PLAINTEXT');
  assert.equal(f?.line, 14);
  assert.ok(!JSON.stringify(r.findings).includes('hunter2'));
});

test('deployment: missing application and bad operator', () => {
  const r = parseDeploymentIntent(
    'kind: Deployment\nname: web\ntargets:\n  selector:\n    matchExpressions: [{key: a, operator: Near}]\n',
  );
  assert.ok(r.findings.some((f) => f.message.includes('application')));
  assert.ok(
    r.findings.some((f) => f.path === '/targets/selector/matchExpressions/0/operator' && f.line === 5),
  );
});

test('fleet: cross-document checks', () => {
  const fleet = parseFleet(
    new Map<string, string>([
      ['devices/a.yaml', 'kind: Device\nid: a\n'],
      ['devices/b.yaml', 'kind: Device\nid: a\n'],
      [
        'deployments/web.yaml',
        'kind: Deployment\nname: web\napplication: {id: x, version: "1"}\ntargets: {devices: [a]}\ndependsOn: [nope]\n',
      ],
      ['README.md', '# ignored'],
    ]),
  );
  assert.deepEqual([...fleet.devices.keys()], ['a']);
  assert.deepEqual([...fleet.deployments.keys()], ['web']);
  assert.ok(fleet.findings.some((f) => f.code === 'ORCH_FLEET_NAME_MISMATCH' && f.file === 'devices/b.yaml'));
  assert.ok(fleet.findings.some((f) => f.code === 'ORCH_FLEET_UNKNOWN_DEPENDENCY'));
});

test('the commented examples in repos-template/fleet are valid documents', async () => {
  const { readFileSync } = await import('node:fs');
  const dir = new URL('../../../../repos-template/fleet/', import.meta.url);
  const d = parseFleetDevice(
    readFileSync(new URL('devices/edge-01.yaml.example', dir), 'utf8'),
    'devices/edge-01.yaml',
  );
  assert.deepEqual(d.findings, []);
  assert.equal(d.value?.labels.line, '3');
  const i = parseDeploymentIntent(
    readFileSync(new URL('deployments/hello.yaml.example', dir), 'utf8'),
    'deployments/hello.yaml',
  );
  assert.deepEqual(i.findings, []);
  assert.equal(i.value?.profile, 'compose');
});

test('fleet: a parse cache reuses unchanged documents and drops removed ones', () => {
  const cache: FleetParseCache = new Map();
  const files = new Map<string, string>([
    ['devices/a.yaml', 'kind: Device\nid: a\n'],
    ['devices/b.yaml', 'kind: Device\nid: b\n'],
  ]);
  const f1 = parseFleet(files, cache);
  assert.equal(cache.size, 2);
  files.set('devices/b.yaml', 'kind: Device\nid: b\nlabels: {x: "1"}\n');
  files.delete('devices/a.yaml');
  const f2 = parseFleet(files, cache);
  assert.equal(cache.size, 1);
  assert.deepEqual(f2.devices.get('b')?.labels, { x: '1' });
  files.set('devices/a.yaml', 'kind: Device\nid: a\n');
  const f3 = parseFleet(files, cache);
  assert.notEqual(f3.devices.get('a'), undefined);
  assert.equal(parseFleet(files, cache).devices.get('b'), f3.devices.get('b')); // same object: not parsed again
  assert.ok(f1.devices.has('a'));
});
