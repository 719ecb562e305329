// `margo serve --otlp-endpoint` end of the plumbing: the flag is parsed, and startServe hands the
// traces URL (flag > OTEL_EXPORTER_OTLP_* env > config.json otlpEndpoint) to the server, or none.
// The server is stubbed (its options are what is checked); test/e2e/otel runs the real one.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startServe } from '../commands/serve.js';
import type { CommandDeps } from '../context.js';
import { writeServerSettings, type ServerSettings } from '../data-dir.js';
import { memoryIo } from '../io.js';
import { main } from '../main.js';
import type { Runners } from '../program.js';
import type { Services } from '../services.js';

let root: string;
before(async () => void (root = await mkdtemp(join(tmpdir(), 'margo-serve-otlp-'))));
after(async () => rm(root, { recursive: true, force: true }));

const settings: ServerSettings = {
  listen: '127.0.0.1:8470',
  publicUrl: 'http://127.0.0.1:8470',
  reconcileIntervalSeconds: 60,
  api: { listen: '127.0.0.1:8471' },
};

async function tracesUrlGiven(
  extra: Partial<ServerSettings>,
  otlpEndpoint: string | undefined,
  env: Record<string, string> = {},
): Promise<string | undefined> {
  const data = join(root, `data-${Math.random().toString(36).slice(2)}`);
  await mkdir(data, { recursive: true });
  await writeServerSettings(data, { ...settings, ...extra });
  let got: { otlpTracesUrl?: string } | undefined;
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
  await startServe({ data, ...(otlpEndpoint !== undefined ? { otlpEndpoint } : {}) }, deps);
  return got!.otlpTracesUrl;
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
