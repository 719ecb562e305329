import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { loadAgentConfig } from '../config/load-agent-config.js';
import { composeOtelOverride, envFileKeys } from './compose-otel.js';
import { helmOtelValues, mergeUnder } from './helm-otel.js';
import {
  otelCollectorOf,
  otelEnvironment,
  otelFingerprint,
  resourceAttributes,
  type OtelCollector,
  type WorkloadIdentity,
} from './otel-settings.js';

const collector: OtelCollector = { endpoint: 'http://172.17.0.1:4318', protocol: 'http/protobuf' };
const id: WorkloadIdentity = {
  deviceId: 'press-3',
  applicationId: 'hello-world',
  applicationVersion: '1.2.0',
  deploymentId: 'b7a2c1d0-0000-4000-8000-000000000001',
  deploymentName: 'hello',
  component: 'web',
};
const base = {
  deviceId: 'd',
  repoUrl: 'http://127.0.0.1:1/git/devices/d.git',
  token: 't',
  stateDir: '/tmp/s',
};

test('otelEnvironment: the Margo page names, the SDK names, fixed order, identity in the resource', () => {
  const env = otelEnvironment(collector, id, 'web');
  assert.deepEqual(
    env.map(([k]) => k),
    [
      'HTTP_OTEL_EXPORTER_OTLP_ENDPOINT',
      'OTEL_EXPORTER_OTLP_PROTOCOL',
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'OTEL_SERVICE_NAME',
      'OTEL_RESOURCE_ATTRIBUTES',
    ],
  );
  const m = new Map(env);
  assert.equal(m.get('HTTP_OTEL_EXPORTER_OTLP_ENDPOINT'), 'http://172.17.0.1:4318');
  assert.equal(m.get('OTEL_EXPORTER_OTLP_ENDPOINT'), 'http://172.17.0.1:4318');
  assert.equal(m.get('OTEL_EXPORTER_OTLP_PROTOCOL'), 'http/protobuf');
  assert.equal(m.get('OTEL_SERVICE_NAME'), 'web');
  assert.equal(
    m.get('OTEL_RESOURCE_ATTRIBUTES'),
    'service.namespace=hello,margo.device.id=press-3,margo.app.id=hello-world,margo.app.version=1.2.0,' +
      'margo.deployment.id=b7a2c1d0-0000-4000-8000-000000000001,margo.deployment.name=hello,margo.component=web',
  );
  assert.deepEqual(otelEnvironment(collector, id, 'web'), env, 'deterministic');

  const grpc = otelEnvironment(
    {
      ...collector,
      protocol: 'grpc',
      grpcEndpoint: 'http://172.17.0.1:4317',
      certificate: '/etc/otel/ca.pem',
    },
    id,
    'web',
  );
  const g = new Map(grpc);
  assert.equal(g.get('GRPC_OTEL_EXPORTER_OTLP_ENDPOINT'), 'http://172.17.0.1:4317');
  assert.equal(
    g.get('HTTP_OTEL_EXPORTER_OTLP_ENDPOINT'),
    'http://172.17.0.1:4318',
    'the page requires it always',
  );
  assert.equal(g.get('OTEL_EXPORTER_OTLP_ENDPOINT'), 'http://172.17.0.1:4317', 'the preferred protocol');
  assert.equal(g.get('OTEL_EXPORTER_OTLP_CERTIFICATE'), '/etc/otel/ca.pem');
});

test('resourceAttributes percent-encodes , = % and spaces in values', () => {
  assert.equal(resourceAttributes([['a', 'x,y=z% w']]), 'a=x%2Cy%3Dz%25%20w');
});

test('composeOtelOverride: every service, map and list environment and env_file values of the package win', () => {
  const compose = [
    'version: "3.8"',
    'services:',
    '  web:',
    '    image: busybox:1.36.1',
    '    environment:',
    '      OTEL_SERVICE_NAME: my-web',
    '      GREETING: ${GREETING}',
    '  worker:',
    '    image: busybox:1.36.1',
    '    environment:',
    '      - OTEL_EXPORTER_OTLP_PROTOCOL=grpc',
    '    env_file: [worker.env, missing.env]',
    '  db:',
    '    image: busybox:1.36.1',
  ].join('\n');
  const files: Record<string, string> = { 'worker.env': '# c\nexport OTEL_RESOURCE_ATTRIBUTES=team=a\nX\n' };
  const o = composeOtelOverride(
    compose,
    (svc) => otelEnvironment(collector, { ...id, deploymentName: 'a$b' }, svc),
    (p) => files[p],
  );
  assert.ok(o);
  const doc = parseYaml(o.text) as {
    version: string;
    services: Record<string, { environment: Record<string, string> }>;
  };
  assert.equal(doc.version, '3.8', 'the base version is repeated (Compose v1 merges equal versions only)');
  assert.deepEqual(Object.keys(doc.services), ['db', 'web', 'worker']);
  assert.equal(doc.services.db!.environment.OTEL_SERVICE_NAME, 'db');
  assert.equal(doc.services.web!.environment.OTEL_SERVICE_NAME, undefined, 'package value wins');
  assert.equal(doc.services.web!.environment.HTTP_OTEL_EXPORTER_OTLP_ENDPOINT, 'http://172.17.0.1:4318');
  assert.equal(doc.services.worker!.environment.OTEL_EXPORTER_OTLP_PROTOCOL, undefined, 'list form wins');
  assert.equal(doc.services.worker!.environment.OTEL_RESOURCE_ATTRIBUTES, undefined, 'env_file wins');
  assert.equal(doc.services.worker!.environment.OTEL_SERVICE_NAME, 'worker');
  assert.match(doc.services.db!.environment.OTEL_RESOURCE_ATTRIBUTES!, /service\.namespace=a%24b/);
  assert.deepEqual(o.injected.web, [
    'HTTP_OTEL_EXPORTER_OTLP_ENDPOINT',
    'OTEL_EXPORTER_OTLP_PROTOCOL',
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    'OTEL_RESOURCE_ATTRIBUTES',
  ]);
  const again = composeOtelOverride(
    compose,
    (svc) => otelEnvironment(collector, { ...id, deploymentName: 'a$b' }, svc),
    (p) => files[p],
  );
  assert.equal(again!.text, o.text, 'byte-identical on every pass');
  assert.equal(
    composeOtelOverride(
      'services: {}\n',
      () => [],
      () => undefined,
    ),
    null,
  );
  assert.equal(
    composeOtelOverride(
      ': : :\n[',
      () => [],
      () => undefined,
    ),
    null,
  );
  const noVersion = composeOtelOverride(
    'services:\n  a: {image: x}\n',
    () => [['A', 'x$y']],
    () => undefined,
  );
  assert.deepEqual(
    parseYaml(noVersion!.text),
    { services: { a: { environment: { A: 'x$$y' } } } },
    'no version; $ escaped',
  );
});

test('envFileKeys reads KEY=value, bare KEY and export KEY lines', () => {
  assert.deepEqual(envFileKeys('A=1\n# B=2\n\n export C=3\nD\nE = 4\n'), ['A', 'C', 'D', 'E']);
});

test('helm values: global.margo.otel with an EnvVar list, parameter values win', () => {
  const env = otelEnvironment(collector, id, 'web');
  const v = helmOtelValues(collector, env, 'web');
  const otel = (v.global as { margo: { otel: Record<string, unknown> } }).margo.otel;
  assert.equal(otel.endpoint, 'http://172.17.0.1:4318');
  assert.equal(otel.protocol, 'http/protobuf');
  assert.equal(otel.serviceName, 'web');
  assert.deepEqual(
    (otel.env as { name: string }[]).map((e) => e.name),
    env.map(([k]) => k),
  );
  assert.deepEqual((otel.env as { value: string }[])[0], {
    name: 'HTTP_OTEL_EXPORTER_OTLP_ENDPOINT',
    value: 'http://172.17.0.1:4318',
  });
  const merged = mergeUnder(
    { image: { tag: '2' }, global: { margo: { otel: { serviceName: 'mine' } }, x: 1 } },
    v,
  );
  const mo = merged.global as { margo: { otel: Record<string, unknown> }; x: number };
  assert.equal(mo.margo.otel.serviceName, 'mine', 'a parameter value wins');
  assert.equal(mo.margo.otel.endpoint, 'http://172.17.0.1:4318');
  assert.equal(mo.x, 1);
  assert.deepEqual(merged.image, { tag: '2' });
});

test('config: otelCollector from the file (nested) and MARGO_AGENT_OTEL_COLLECTOR_* (env wins)', () => {
  const fromFile = loadAgentConfig({
    file: { ...base, otelCollector: { endpoint: 'http://10.0.0.1:4318', protocol: 'http/protobuf' } },
  });
  assert.deepEqual(fromFile.problems, []);
  assert.deepEqual(otelCollectorOf(fromFile.config), {
    endpoint: 'http://10.0.0.1:4318',
    protocol: 'http/protobuf',
  });
  const fromEnv = loadAgentConfig({
    file: { ...base, otelCollector: { endpoint: 'http://10.0.0.1:4318' } },
    env: { MARGO_AGENT_OTEL_COLLECTOR_ENDPOINT: 'http://10.0.0.2:4318' },
  });
  assert.deepEqual(fromEnv.problems, []);
  assert.equal(otelCollectorOf(fromEnv.config)?.endpoint, 'http://10.0.0.2:4318');
  assert.equal(otelCollectorOf(loadAgentConfig({ file: base }).config), undefined, 'off by default');
});

test('config: a bad otelCollector is a listed problem', () => {
  const paths = (file: Record<string, unknown>, env: Record<string, string> = {}) =>
    loadAgentConfig({ file: { ...base, ...file }, env }).problems.map((p) => p.path);
  assert.deepEqual(paths({ otelCollector: { endpoint: 'ftp://x' } }), ['otelCollector.endpoint']);
  assert.deepEqual(paths({ otelCollector: { protocol: 'grpc' } }), [
    'otelCollector.endpoint',
    'otelCollector.grpcEndpoint',
  ]);
  assert.deepEqual(paths({ otelCollector: { endpoint: 'http://a:1', protocol: 'udp' } }), [
    'otelCollector.protocol',
  ]);
  assert.deepEqual(paths({ otelCollector: { endpoint: 'http://a:1', colour: 'red' } }), [
    'otelCollector.colour',
  ]);
  assert.deepEqual(paths({ otelCollector: 'http://a:1' }), ['otelCollector']);
  assert.deepEqual(paths({ otelCollector: { endpoint: 'http://u:p@a:1' } }), ['otelCollector.endpoint']);
  assert.deepEqual(
    paths(
      {},
      {
        MARGO_AGENT_OTEL_COLLECTOR_CERTIFICATE: 'rel.pem',
        MARGO_AGENT_OTEL_COLLECTOR_ENDPOINT: 'http://a:1',
      },
    ),
    ['otelCollector.certificate'],
  );
});

test('otelFingerprint: none without a collector, stable, changes with the settings', () => {
  assert.equal(otelFingerprint(undefined), undefined);
  assert.equal(otelFingerprint(collector), otelFingerprint({ ...collector }));
  assert.notEqual(
    otelFingerprint(collector),
    otelFingerprint({ ...collector, endpoint: 'http://10.0.0.9:4318' }),
  );
});
