import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryIo } from '../io.js';
import { main } from '../main.js';
import type { Services } from '../services.js';
import { renderStatus, toRows } from './status.js';

// The shape served by the orchestrator's status API (FleetStatus).
const fleet = {
  generatedAt: '2026-01-01T00:00:00.000Z',
  fleetCommit: 'a',
  catalogCommit: 'b',
  findings: [],
  deployments: [
    {
      name: 'hello',
      applicationId: 'hello-world',
      version: '1.0.0',
      counts: {
        pending: 0,
        installing: 1,
        installed: 1,
        failed: 1,
        removing: 0,
        removed: 0,
        'not-matched': 0,
        unknown: 0,
        error: 0,
      },
      total: 3,
      errors: [{ deviceId: 'd3', code: 'AGENT_COMPOSE_FAILED', message: 'pull failed' }],
      devices: [
        { deviceId: 'd1', deploymentId: 'x1', state: 'installed' },
        { deviceId: 'd2', deploymentId: 'x2', state: 'installing' },
        {
          deviceId: 'd3',
          deploymentId: 'x3',
          state: 'failed',
          error: { code: 'AGENT_COMPOSE_FAILED', message: 'pull failed' },
        },
      ],
    },
  ],
  devices: [],
};

async function status(args: string[], answer: unknown) {
  const io = memoryIo();
  const seen: (string | undefined)[] = [];
  const services = {
    fetchStatus: async (_c: unknown, name?: string) => {
      seen.push(name);
      return answer;
    },
  } as unknown as Services;
  const code = await main(
    ['node', 'margo', 'status', ...args, '--server', 'http://127.0.0.1:1', '--token', 't'],
    { io, env: { MARGO_CONFIG: '/nonexistent/c.json' }, services },
  );
  return { code, out: io.stdout(), err: io.stderr(), seen };
}

describe('margo status', () => {
  it('fleet table with counts per state', async () => {
    const r = await status([], fleet);
    assert.equal(r.code, 0, r.err);
    const [head, row] = r.out.split('\n');
    assert.match(head!, /^DEPLOYMENT\s+APPLICATION\s+DEVICES\s+INSTALLED\s+INSTALLING\s+PENDING\s+FAILED/);
    assert.match(row!, /^hello\s+hello-world@1\.0\.0\s+3\s+1\s+1\s+0\s+1/);
  });

  it('per-deployment table lists devices with errors', async () => {
    const r = await status(['hello'], { generatedAt: 'x', deployment: fleet.deployments[0] });
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(r.seen, ['hello']);
    assert.match(r.out, /d3\s+failed\s+AGENT_COMPOSE_FAILED: pull failed/);
  });

  it('-o json and -o yaml print the API answer unchanged', async () => {
    assert.deepEqual(JSON.parse((await status(['-o', 'json'], fleet)).out), fleet);
    assert.match((await status(['-o', 'yaml'], fleet)).out, /^generatedAt: 2026-01-01T00:00:00.000Z\n/);
  });

  it('--watch redraws on change and stops on SIGINT/SIGTERM', async () => {
    const io = memoryIo();
    let calls = 0;
    let stop!: (s: string) => void;
    const stopped = new Promise<string>((r) => (stop = r));
    const services = {
      fetchStatus: async () => {
        calls++;
        if (calls === 3) stop('SIGINT');
        return calls === 1 ? { deployments: [] } : fleet;
      },
    } as unknown as Services;
    const code = await main(
      [
        'node',
        'margo',
        'status',
        '--watch',
        '--interval',
        '0.05',
        '--server',
        'http://127.0.0.1:1',
        '--token',
        't',
      ],
      {
        io,
        env: { MARGO_CONFIG: '/nonexistent/c.json' },
        services,
        untilStopped: () => stopped,
      },
    );
    assert.equal(code, 0);
    assert.ok(calls >= 3);
    // Drawn twice: the empty fleet, then the fleet with hello (the unchanged third answer is not redrawn).
    assert.equal(io.stdout().match(/no deployments yet/g)?.length, 1);
    assert.equal(io.stdout().match(/^hello\s/gm)?.length, 1);
  });

  it('rows from a fleet answer', () => {
    assert.equal(toRows(fleet)[0]?.application, 'hello-world@1.0.0');
    assert.match(renderStatus({ deployments: [] }, undefined, false), /no deployments yet/);
  });
});
