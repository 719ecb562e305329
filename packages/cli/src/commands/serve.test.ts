// Which addresses `margo serve` hands to the server for what init recorded and what the command
// line says, and the OTLP traces URL it is handed (flag > OTEL_EXPORTER_OTLP_* env > config.json
// otlpEndpoint > none). The server itself is stubbed: only the options it is given are checked here;
// the e2e suites (test/e2e/otel among them) start real servers.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { CommandDeps } from '../context.js';
import { writeServerSettings, type ServerSettings } from '../data-dir.js';
import { memoryIo } from '../io.js';
import { main } from '../main.js';
import type { Runners } from '../program.js';
import type { Services } from '../services.js';
import { startServe } from './serve.js';

let root: string;
before(async () => void (root = await mkdtemp(join(tmpdir(), 'margo-serve-opts-'))));
after(async () => rm(root, { recursive: true, force: true }));

async function given(
  settings: ServerSettings,
  flags: { listen?: string; apiListen?: string; maxConcurrentChanges?: string; otlpEndpoint?: string },
  env: Record<string, string> = {},
) {
  const data = join(root, `data-${Math.random().toString(36).slice(2)}`);
  await mkdir(data, { recursive: true });
  await writeServerSettings(data, settings);
  let got:
    | {
        listen: string;
        publicUrl?: string;
        api?: { listen: string };
        maxConcurrentChanges?: number;
        otlpTracesUrl?: string;
      }
    | undefined;
  const services = {
    startServer: async (o: typeof got) => {
      got = o;
      return { url: 'http://127.0.0.1:1', endpoints: {}, close: async () => {} };
    },
  } as unknown as Services;
  const deps = {
    io: memoryIo(),
    env: { MARGO_CONFIG: join(root, 'cfg.json'), ...env },
    cwd: root,
    services,
  } as unknown as CommandDeps;
  await startServe({ data, ...flags } as Parameters<typeof startServe>[0], deps);
  return got!;
}

const initDefault: ServerSettings = {
  listen: '127.0.0.1:8470',
  publicUrl: 'http://127.0.0.1:8470',
  reconcileIntervalSeconds: 60,
  api: { listen: '127.0.0.1:8471' },
};

test('serve --listen 0.0.0.0 takes the API along, and keeps a public URL chosen at init', async () => {
  const s = await given(
    { ...initDefault, publicUrl: 'https://margo.plant-a.example' },
    { listen: '0.0.0.0:8470' },
  );
  assert.equal(s.listen, '0.0.0.0:8470');
  assert.equal(s.api?.listen, '0.0.0.0:8471');
  assert.equal(s.publicUrl, 'https://margo.plant-a.example');
});

test('a derived public URL gives way to an explicit --listen; an API address chosen at init stays', async () => {
  const s = await given({ ...initDefault, api: { listen: '10.0.0.2:9443' } }, { listen: '127.0.0.1:9000' });
  assert.equal(s.publicUrl, undefined, 'the server names its own address');
  assert.equal(s.api?.listen, '10.0.0.2:9443');
  const t = await given(initDefault, {});
  assert.equal(t.publicUrl, 'http://127.0.0.1:8470');
  assert.equal(t.api?.listen, '127.0.0.1:8471');
  const u = await given(initDefault, { listen: '0.0.0.0:8470', apiListen: 'off' });
  assert.equal(u.api?.listen, 'off');
});

test('serve --max-concurrent-changes hands the fleet-wide cap to the server; a bad one is a usage error', async () => {
  assert.equal((await given(initDefault, { maxConcurrentChanges: '50' })).maxConcurrentChanges, 50);
  assert.equal((await given(initDefault, {})).maxConcurrentChanges, undefined, 'else config.json decides');
  for (const bad of ['0', '-3', 'many', '2.5'])
    await assert.rejects(given(initDefault, { maxConcurrentChanges: bad }), { code: 'USAGE_ERROR' });
});

async function tracesUrlGiven(
  extra: Partial<ServerSettings>,
  otlpEndpoint: string | undefined,
  env: Record<string, string> = {},
): Promise<string | undefined> {
  const flags = otlpEndpoint !== undefined ? { otlpEndpoint } : {};
  return (await given({ ...initDefault, ...extra }, flags, env)).otlpTracesUrl;
}

test('startServe: flag > OTEL_EXPORTER_OTLP_* > config.json otlpEndpoint > no tracing', async () => {
  assert.equal(await tracesUrlGiven({}, undefined), undefined, 'nothing configured: no tracing');
  assert.equal(await tracesUrlGiven({ otlpEndpoint: 'http://c:4318' }, undefined), 'http://c:4318/v1/traces');
  assert.equal(
    await tracesUrlGiven({ otlpEndpoint: 'http://c:4318' }, undefined, {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://e:4318',
    }),
    'http://e:4318/v1/traces',
  );
  assert.equal(
    await tracesUrlGiven({ otlpEndpoint: 'http://c:4318' }, 'http://f:4318', {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://e:4318',
    }),
    'http://f:4318/v1/traces',
  );
  await assert.rejects(tracesUrlGiven({}, 'localhost 4318'), { code: 'USAGE_ERROR' });
});

test('margo serve --otlp-endpoint reaches the serve runner', async () => {
  const calls: unknown[] = [];
  const runner = async (o: unknown) => {
    calls.push(o);
    return 0;
  };
  const code = await main(['node', 'margo', 'serve', '--otlp-endpoint', 'http://127.0.0.1:4318'], {
    io: memoryIo(),
    env: { MARGO_CONFIG: '/nonexistent/config.json' },
    cwd: '/work',
    services: {} as Services,
    runners: { serve: runner } as unknown as Runners,
  });
  assert.equal(code, 0);
  assert.equal((calls[0] as { otlpEndpoint?: string }).otlpEndpoint, 'http://127.0.0.1:4318');
});
