import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { isMargoError } from '@margo-gitops/spec';
import { createTracing, otlpTracesUrl, SERVICE_NAME } from './tracing.js';

test('otlpTracesUrl: flag > traces env (as is) > general env > config.json; /v1/traces appended to a base', () => {
  const env = {
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:4318/custom',
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://g:4318',
  };
  assert.deepEqual(otlpTracesUrl({ flag: 'http://f:4318', env, config: 'http://c:4318' }), {
    url: 'http://f:4318/v1/traces',
    source: '--otlp-endpoint',
  });
  assert.equal(otlpTracesUrl({ env, config: 'http://c:4318' })?.url, 'http://t:4318/custom');
  assert.equal(
    otlpTracesUrl({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://g:4318/otlp/' } })?.url,
    'http://g:4318/otlp/v1/traces',
  );
  assert.equal(otlpTracesUrl({ config: 'https://c/v1/traces' })?.url, 'https://c/v1/traces');
  assert.equal(otlpTracesUrl({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: '' } }), undefined, 'none: no tracing');
  for (const bad of ['not a url', 'ftp://x:1', 'http://u:p@x:1'])
    assert.throws(
      () => otlpTracesUrl({ flag: bad }),
      (e) => isMargoError(e) && e.code === 'USAGE_ERROR',
    );
});

test('createTracing: margo.reconcile per pass, commit events, margo.rollout.step as a child', async () => {
  const exporter = new InMemorySpanExporter();
  const t = createTracing({ exporter, serviceVersion: '0.1.0', scheduledDelayMillis: 10 });
  const pass = t.telemetry.passStarted({ reason: 'push devices/dev1.git', deviceId: 'dev1' });
  t.telemetry.committed({ repo: 'device', kind: 'desired-state', deviceId: 'dev1', commit: 'abc123' });
  t.telemetry.rolloutStep({
    name: 'web',
    phase: 'running',
    events: ['wave w1 started'],
    commit: 'def456',
    startedAt: 1_700_000_000_000,
    endedAt: 1_700_000_000_250,
  });
  pass.end({ outcome: 'ok', devicesWritten: 1, commits: 2 });
  t.telemetry
    .passStarted({ reason: 'timer' })
    .end({ outcome: 'error', devicesWritten: 0, commits: 0, errorCode: 'ORCH_X' });
  await t.flush();
  const spans = exporter.getFinishedSpans();
  const rec = spans.filter((s) => s.name === 'margo.reconcile');
  assert.equal(rec.length, 2);
  const [a, b] = rec;
  assert.equal(a!.resource.attributes['service.name'], SERVICE_NAME);
  assert.deepEqual(a!.attributes, {
    'margo.reason': 'push devices/dev1.git',
    'margo.device.id': 'dev1',
    'margo.outcome': 'ok',
    'margo.commits': 2,
    'margo.devices_written': 1,
  });
  assert.equal(a!.events[0]?.name, 'margo.commit');
  assert.equal(a!.events[0]?.attributes?.['margo.commit'], 'abc123');
  assert.equal(b!.attributes['margo.error_code'], 'ORCH_X');
  assert.equal(b!.status.code, 2, 'error status');
  const step = spans.find((s) => s.name === 'margo.rollout.step')!;
  assert.deepEqual(step.attributes['margo.rollout.events'], ['wave w1 started']);
  assert.equal(step.attributes['margo.rollout.phase'], 'running');
  assert.equal(step.parentSpanContext?.spanId, a!.spanContext().spanId, 'child of the pass');
  assert.equal(step.spanContext().traceId, a!.spanContext().traceId);
  assert.deepEqual(step.startTime, [1_700_000_000, 0]);
  await t.shutdown();
});
