import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ParamValue } from '@margo-gitops/spec';
import { resolveParameters } from './resolve-parameters.js';
import { helloApp } from './test-fixtures.js';

const app = helloApp();
const compose = app.profiles.find((p) => p.type === 'compose')!;
const helm = app.profiles.find((p) => p.type === 'helm.v3')!;
const sealed = 'sealed:v1:QUJD';

type Case = {
  name: string;
  params?: Record<string, ParamValue>;
  secrets?: Record<string, { sealed: Record<string, string> }>;
  previous?: Record<string, ParamValue>;
  helm?: boolean;
  want: Record<string, unknown> | string;
};
const cases: Case[] = [
  {
    name: 'defaults mapped to compose pointers as written',
    want: {
      greeting: { value: 'hello', targets: [{ pointer: 'ENV.GREETING', components: ['hello-compose'] }] },
      port: { value: 8080, targets: [{ pointer: 'ENV.PORT', components: ['hello-compose'] }] },
    },
  },
  {
    name: 'intent overrides default; helm pointers',
    helm: true,
    params: { greeting: 'hi' },
    want: {
      greeting: { value: 'hi', targets: [{ pointer: 'greeting', components: ['hello-chart'] }] },
      port: { value: 8080, targets: [{ pointer: 'service.port', components: ['hello-chart'] }] },
    },
  },
  { name: 'unknown parameter refused', params: { colour: 'red' }, want: 'ORCH_PARAMETER_UNKNOWN' },
  {
    name: 'value breaking its schema refused',
    params: { greeting: 'x'.repeat(21) },
    want: 'ORCH_PARAMETER_INVALID',
  },
  { name: 'range checked', params: { port: 70000 }, want: 'ORCH_PARAMETER_INVALID' },
  { name: 'type checked', params: { port: 'eighty' }, want: 'ORCH_PARAMETER_INVALID' },
  {
    name: 'immutable change after first deployment refused',
    params: { port: 9090 },
    previous: { port: 8080, greeting: 'x' },
    want: 'ORCH_PARAMETER_IMMUTABLE',
  },
  {
    name: 'mutable change accepted',
    params: { greeting: 'yo' },
    previous: { port: 8080, greeting: 'x' },
    want: {
      greeting: { value: 'yo', targets: [{ pointer: 'ENV.GREETING', components: ['hello-compose'] }] },
      port: { value: 8080, targets: [{ pointer: 'ENV.PORT', components: ['hello-compose'] }] },
    },
  },
  {
    name: 'immutable may be set on first deployment',
    params: { port: 9090 },
    want: {
      greeting: { value: 'hello', targets: [{ pointer: 'ENV.GREETING', components: ['hello-compose'] }] },
      port: { value: 9090, targets: [{ pointer: 'ENV.PORT', components: ['hello-compose'] }] },
    },
  },
  {
    name: 'secret sealed for the device',
    secrets: { password: { sealed: { 'edge-1': sealed } } },
    want: {
      greeting: { value: 'hello', targets: [{ pointer: 'ENV.GREETING', components: ['hello-compose'] }] },
      password: { value: sealed, targets: [{ pointer: 'ENV.PASSWORD', components: ['hello-compose'] }] },
      port: { value: 8080, targets: [{ pointer: 'ENV.PORT', components: ['hello-compose'] }] },
    },
  },
  {
    name: 'secret not sealed for this device',
    secrets: { password: { sealed: { other: sealed } } },
    want: 'ORCH_SECRET_NOT_SEALED',
  },
];
for (const c of cases) {
  test(`resolveParameters: ${c.name}`, () => {
    const r = resolveParameters({
      app,
      profile: c.helm ? helm : compose,
      intent: { parameters: c.params ?? {}, secrets: c.secrets ?? {} },
      deviceId: 'edge-1',
      ...(c.previous ? { previous: c.previous } : {}),
    });
    if (typeof c.want === 'string') {
      assert.ok(!r.ok, JSON.stringify(r));
      assert.equal(r.code, c.want);
      assert.ok(r.reason.length > 10);
    } else {
      assert.ok(r.ok, JSON.stringify(r));
      // Compared as written in margo.yaml (rawPointer); `pointer` is spec's normalised form.
      const asWritten = Object.fromEntries(
        Object.entries(r.parameters).map(([k, p]) => [
          k,
          {
            value: p.value,
            targets: p.targets.map((t) => ({ pointer: t.rawPointer, components: t.components })),
          },
        ]),
      );
      assert.deepEqual(asWritten, c.want);
    }
  });
}

test('an injected validator is used and its errors refuse the values', () => {
  const r = resolveParameters({
    app,
    profile: compose,
    intent: { parameters: {}, secrets: {} },
    deviceId: 'e',
    validate: () => [{ code: 'SPEC_X', severity: 'error', message: 'nope', path: '/parameters/greeting' }],
  });
  assert.ok(!r.ok);
  assert.match(r.reason, /nope/);
});
