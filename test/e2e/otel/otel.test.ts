// OpenTelemetry end to end, on real components: the testbed's OpenTelemetry Collector (built from
// its Go modules: OTLP/HTTP receiver + file exporter), `margo serve --otlp-endpoint <collector>`,
// the stand-alone margo-agent (its launcher and bundle) with otelCollector set, enrolled, and the
// testbed's Docker engine. Checked: the collector's file receives `margo.reconcile` spans of this
// server (service.name margo-gitops; reason, device id, outcome, commits) written for dev1; the
// deployed hello-world container has the injected OTEL_* environment (docker inspect, and the
// container's own /cgi-bin/env), the package's GREETING still arrives; the container is not
// recreated on later passes (the injection is deterministic); the capabilities on the device's
// status branch say otelCollector: true and name the endpoint.
// Needs `npm run build` and the testbed's docker + image + otelcol (fails under MARGO_REQUIRE_TESTBED=1).
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireComponent, type Testbed } from '../../testbed/env.js';
import {
  cliSuite,
  deployHelloArgs,
  freePort,
  json,
  MargoCli,
  margoAgentBin,
  removeWorkloadOnPort,
  repoRoot as repo,
  servedHello,
  stop,
} from '../cli/harness.js';

/** What workloads are told (only the variables are checked: nothing in the container dials it). */
const WORKLOAD_ENDPOINT = 'http://172.17.0.1:4318';

let dir: string;
let env: NodeJS.ProcessEnv;
let cli: MargoCli;
let port: number;
let hostPort: number;
let server: ChildProcess | undefined;
let agent: ChildProcess | undefined;
let tb: Testbed | undefined;
let deploymentId = '';
const startedNs = BigInt(Date.now() - 1000) * 1_000_000n;

interface OtlpAttr {
  key: string;
  value: { stringValue?: string; intValue?: string | number; arrayValue?: unknown };
}
interface OtlpSpan {
  name: string;
  startTimeUnixNano: string;
  attributes?: OtlpAttr[];
  events?: { name: string; attributes?: OtlpAttr[] }[];
}
type Attrs = Record<string, string | number>;
const attrsOf = (list: OtlpAttr[] | undefined): Attrs => {
  const attrs: Attrs = {};
  for (const a of list ?? []) attrs[a.key] = a.value.stringValue ?? Number(a.value.intValue ?? NaN);
  return attrs;
};
/** Spans of service `margo-gitops` the collector wrote to its file since this suite started. */
function receivedSpans(): { name: string; attrs: Attrs; events: { name: string; attrs: Attrs }[] }[] {
  const file = tb?.otelcolFile;
  if (!file || !existsSync(file)) return [];
  const out: ReturnType<typeof receivedSpans> = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let req: {
      resourceSpans?: { resource?: { attributes?: OtlpAttr[] }; scopeSpans?: { spans?: OtlpSpan[] }[] }[];
    };
    try {
      req = JSON.parse(line);
    } catch {
      continue; // a line being written
    }
    for (const rs of req.resourceSpans ?? []) {
      const svc = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue;
      if (svc !== 'margo-gitops') continue;
      for (const ss of rs.scopeSpans ?? [])
        for (const s of ss.spans ?? []) {
          if (BigInt(s.startTimeUnixNano) < startedNs) continue;
          out.push({
            name: s.name,
            attrs: attrsOf(s.attributes),
            events: (s.events ?? []).map((e) => ({ name: e.name, attrs: attrsOf(e.attributes) })),
          });
        }
    }
  }
  return out;
}
function containerId(): string {
  return execFileSync('docker', ['ps', '-q', '--no-trunc', '--filter', `publish=${hostPort}`], {
    env,
    encoding: 'utf8',
  }).trim();
}
/** The container's environment as Docker runs it. */
function containerEnv(): Map<string, string> {
  const out = execFileSync('docker', ['inspect', '-f', '{{json .Config.Env}}', containerId()], {
    env,
    encoding: 'utf8',
  });
  return new Map(
    (JSON.parse(out) as string[]).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}
const served = (): Promise<string | undefined> => servedHello(hostPort);
function statusFile(name: string): string | undefined {
  try {
    const gitDir = join(dir, 'margo-data', 'repos', 'devices', 'dev1.git');
    return execFileSync('git', ['--git-dir', gitDir, 'show', `status:${name}`], {
      encoding: 'utf8',
      stdio: 'pipe',
    });
  } catch {
    return undefined;
  }
}

describe(
  'OpenTelemetry: server traces to a real collector, OTEL_* in a deployed container',
  { timeout: 600_000 },
  () => {
    before(async () => {
      ({ dir, env, cli, tb } = await cliSuite('margo-e2e-otel-', [
        'OTEL_EXPORTER_OTLP_ENDPOINT',
        'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
      ]));
      port = await freePort();
      hostPort = await freePort();
    });

    after(async () => {
      if (server && server.exitCode === null && agent && agent.exitCode === null) {
        const r = await cli.run('undeploy', 'hello');
        if (r.code === 0)
          await cli.until(60, 'removal at cleanup', async () => !(await served())).catch(() => {});
      }
      await stop(agent);
      await stop(server);
      removeWorkloadOnPort(hostPort, env);
      await rm(dir, { recursive: true, force: true });
    });

    it('deploys hello-world through serve --otlp-endpoint and an agent with otelCollector set', async (t) => {
      if (!requireComponent(t, ['docker', 'image', 'otelcol'])) return;
      json(await cli.run('init', '--data', 'margo-data', '--listen', `127.0.0.1:${port}`, '-o', 'json'));
      server = await cli.start(
        'serve',
        ['serve', '--data', 'margo-data', '--otlp-endpoint', tb!.otelcolEndpoint!],
        /traces \(OTLP\)\s+http:\/\/127\.0\.0\.1:\d+\/v1\/traces/,
      );
      const added = json<{ enrolmentToken: string }>(
        await cli.run('device', 'add', 'dev1', '--role', 'standalone-device', '-o', 'json'),
      );
      agent = await cli.start(
        'agent',
        ['--server', `http://127.0.0.1:${port}`, '--token', added.enrolmentToken, '--state', 'agent-state'],
        /agent for device dev1 running/,
        { MARGO_AGENT_OTEL_COLLECTOR_ENDPOINT: WORKLOAD_ENDPOINT },
        [margoAgentBin],
      );
      json(await cli.run('app', 'publish', join(repo, 'examples/hello-world'), '-o', 'json'));
      json(await cli.run(...deployHelloArgs({ device: 'dev1', greeting: 'hi', hostPort })));
      const row = await cli.until(180, 'hello installed on dev1', async () => {
        const r = await cli.run('status', 'hello', '-o', 'json');
        if (r.code !== 0) return false;
        const rows = (
          JSON.parse(r.out) as {
            deployment: { devices: { deviceId: string; deploymentId: string; state: string }[] };
          }
        ).deployment.devices;
        const d = rows.find((x) => x.deviceId === 'dev1');
        return d?.state === 'installed' ? d : undefined;
      });
      deploymentId = row.deploymentId;
      assert.match(deploymentId, /^[0-9a-f-]{36}$/);
    });

    it('the container runs with the injected OTEL_* environment; the package values still arrive', async (t) => {
      if (!requireComponent(t, ['docker', 'image', 'otelcol'])) return;
      assert.ok(agent, 'the agent is not running');
      const e = containerEnv();
      assert.equal(e.get('HTTP_OTEL_EXPORTER_OTLP_ENDPOINT'), WORKLOAD_ENDPOINT);
      assert.equal(e.get('OTEL_EXPORTER_OTLP_ENDPOINT'), WORKLOAD_ENDPOINT);
      assert.equal(e.get('OTEL_EXPORTER_OTLP_PROTOCOL'), 'http/protobuf');
      assert.equal(e.get('OTEL_SERVICE_NAME'), 'hello', 'the Compose service');
      const attrs = new Map(
        (e.get('OTEL_RESOURCE_ATTRIBUTES') ?? '').split(',').map((kv) => kv.split('=') as [string, string]),
      );
      assert.equal(attrs.get('margo.device.id'), 'dev1');
      assert.equal(attrs.get('margo.app.id'), 'hello-world');
      assert.equal(attrs.get('margo.app.version'), '1.0.0');
      assert.equal(attrs.get('margo.deployment.name'), 'hello');
      assert.equal(attrs.get('margo.deployment.id'), deploymentId);
      assert.equal(e.get('GREETING'), 'hi', 'the parameter reaches the container as before');
      // What the workload itself sees (busybox env behind httpd's CGI).
      const seen = (await cli.until(30, 'the container to answer', served))!;
      assert.match(seen, new RegExp(`^OTEL_EXPORTER_OTLP_ENDPOINT=${WORKLOAD_ENDPOINT}$`, 'm'));
      assert.match(seen, /^GREETING=hi$/m);
      // Later passes see no change: the same container keeps running (no re-create every poll).
      const id = containerId();
      await new Promise((r) => setTimeout(r, 6000));
      assert.equal(containerId(), id, 'not recreated by later passes');
      assert.doesNotMatch(cli.logs.agent ?? '', /drift detected/);
    });

    it('capabilities on the status branch report otelCollector', async (t) => {
      if (!requireComponent(t, ['docker', 'image', 'otelcol'])) return;
      const caps = await cli.until(60, 'capabilities on the status branch', async () => {
        const text = statusFile('capabilities.json');
        return text ? (JSON.parse(text) as Record<string, any>) : undefined;
      });
      assert.equal(caps.properties.otelCollector, true);
      assert.deepEqual(caps['x-margo-gitops-extensions']?.otelCollector, {
        endpoint: WORKLOAD_ENDPOINT,
        protocol: 'http/protobuf',
      });
    });

    it('the collector received margo.reconcile spans of this server for dev1', async (t) => {
      if (!requireComponent(t, ['docker', 'image', 'otelcol'])) return;
      // The pass that rendered dev1's desired state: a commit event for dev1 inside it.
      const wrote = await cli.until(30, 'the pass that wrote dev1 in the collector file', async () =>
        receivedSpans().find(
          (x) =>
            x.name === 'margo.reconcile' &&
            x.events.some(
              (e) =>
                e.name === 'margo.commit' &&
                e.attrs['margo.device.id'] === 'dev1' &&
                e.attrs['margo.commit.kind'] === 'desired-state',
            ),
        ),
      );
      assert.equal(wrote.attrs['margo.outcome'], 'ok', JSON.stringify(wrote.attrs));
      assert.ok(Number(wrote.attrs['margo.commits']) >= 1, JSON.stringify(wrote.attrs));
      assert.ok(Number(wrote.attrs['margo.devices_written']) >= 1, JSON.stringify(wrote.attrs));
      assert.match(String(wrote.attrs['margo.reason']), /fleet/, 'a fleet push started it');
      // Passes about dev1 alone (its enrolment, its status pushes) name the device.
      const status = await cli.until(30, 'a pass for dev1 (its status)', async () =>
        receivedSpans().find((x) => x.name === 'margo.reconcile' && x.attrs['margo.device.id'] === 'dev1'),
      );
      assert.equal(status.attrs['margo.outcome'], 'ok');
      assert.ok(String(status.attrs['margo.reason']).length > 0, 'a reason (enrolled, status push ...)');
      const all = receivedSpans().filter((x) => x.name === 'margo.reconcile');
      assert.ok(
        all.every((x) => typeof x.attrs['margo.outcome'] === 'string'),
        'every pass ends with an outcome',
      );
    });
  },
);
