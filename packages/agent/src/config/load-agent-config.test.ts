import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolveTransport } from './agent-config.js';
import { envName, loadAgentConfig } from './load-agent-config.js';

test('envName maps config keys to MARGO_AGENT_ names', () => {
  assert.equal(envName('pollIntervalSeconds'), 'MARGO_AGENT_POLL_INTERVAL_SECONDS');
  assert.equal(envName('deviceId'), 'MARGO_AGENT_DEVICE_ID');
});

test('precedence: defaults < file < env < flags', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-cfg-'));
  try {
    const file = join(dir, 'agent.yaml');
    writeFileSync(
      file,
      'deviceId: dev-file\nrepoUrl: http://127.0.0.1:1/git/devices/d.git\ntoken: t\nstateDir: state\npollIntervalSeconds: 10\ngitBackend: native\n',
    );
    const { config, problems } = loadAgentConfig({
      file,
      env: {
        MARGO_AGENT_POLL_INTERVAL_SECONDS: '5',
        MARGO_AGENT_DOWNTIME_WINDOWS: '22:00-02:00, 12:00-12:30',
        PATH: '/bin',
      },
      flags: { pollIntervalSeconds: 2, deviceId: undefined },
    });
    assert.deepEqual(problems, []);
    assert.equal(config.deviceId, 'dev-file');
    assert.equal(config.pollIntervalSeconds, 2);
    assert.equal(config.gitBackend, 'native');
    assert.equal(config.helmPath, 'helm');
    assert.equal(config.stateDir, join(dir, 'state'), 'relative paths resolve against the file');
    assert.deepEqual(config.downtimeWindows, ['22:00-02:00', '12:00-12:30']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every problem is listed with its path', () => {
  const { problems } = loadAgentConfig({
    file: {
      pollIntervalSeconds: 'often',
      gitBackend: 'svn',
      downtimeWindows: ['10:00-11:00', 'nope'],
      bogus: 1,
    },
    env: {
      MARGO_AGENT_HELM_PLAIN_HTTP: 'maybe',
      MARGO_AGENT_WHAT: 'x',
      MARGO_AGENT_POLLING_WINDOW: '25:00-03:00',
    },
  });
  const paths = problems.map((p) => p.path).sort();
  assert.deepEqual(paths, [
    'MARGO_AGENT_WHAT',
    'bogus',
    'deviceId',
    'downtimeWindows[1]',
    'gitBackend',
    'helmPlainHttp',
    'pollIntervalSeconds',
    'pollingWindow',
    'repoUrl',
    'stateDir',
    'token',
  ]);
  for (const p of problems) assert.ok(p.message.length > 3);
});

test('enrolment file fills device id, url and token', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-cfg-'));
  try {
    const enrol = join(dir, 'enrolment.json');
    writeFileSync(
      enrol,
      JSON.stringify({
        deviceId: 'dev-9',
        repoUrl: 'http://127.0.0.1:9/git/devices/dev-9.git',
        token: 'sekret',
      }),
    );
    const { config, problems } = loadAgentConfig({ flags: { enrolmentFile: enrol, stateDir: dir } });
    assert.deepEqual(problems, []);
    assert.equal(config.deviceId, 'dev-9');
    assert.equal(config.token, 'sekret');
    const bad = loadAgentConfig({ flags: { enrolmentFile: join(dir, 'missing.json'), stateDir: dir } });
    assert.ok(bad.problems.some((p) => p.path === 'enrolmentFile'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('transport: auto picks rest when an API URL is known; rest needs an https apiUrl', () => {
  const base = { deviceId: 'd', repoUrl: 'http://127.0.0.1:1/git/devices/d.git', token: 't', stateDir: '/s' };
  const auto = loadAgentConfig({ flags: base });
  assert.deepEqual(auto.problems, []);
  assert.equal(auto.config.transport, 'auto');
  assert.equal(resolveTransport(auto.config), 'git');
  // The enrolment answer's URL is the weakest source (a file layer); env overrides it.
  const enrolled = loadAgentConfig({
    file: { apiUrl: 'https://127.0.0.1:8471' },
    env: { MARGO_AGENT_API_URL: 'https://10.0.0.5:8471' },
    flags: base,
  });
  assert.deepEqual(enrolled.problems, []);
  assert.equal(enrolled.config.apiUrl, 'https://10.0.0.5:8471');
  assert.equal(resolveTransport(enrolled.config), 'rest');
  const forced = loadAgentConfig({
    file: { apiUrl: 'https://127.0.0.1:8471' },
    env: { MARGO_AGENT_TRANSPORT: 'git' },
    flags: base,
  });
  assert.equal(resolveTransport(forced.config), 'git');
  const paths = (flags: Record<string, unknown>) =>
    loadAgentConfig({ flags: { ...base, ...flags } }).problems.map((p) => p.path);
  assert.deepEqual(paths({ transport: 'rest' }), ['apiUrl']);
  assert.deepEqual(paths({ transport: 'rest', apiUrl: 'http://127.0.0.1:8471' }), ['apiUrl']);
  assert.deepEqual(paths({ apiUrl: 'https://u:p@127.0.0.1:8471' }), ['apiUrl']);
  assert.deepEqual(paths({ transport: 'grpc' }), ['transport']);
});
