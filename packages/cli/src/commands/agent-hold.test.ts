import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Services } from '../services.js';
import { memoryIo } from '../io.js';
import { main } from '../main.js';

async function margo(args: string[], cwd: string) {
  const io = memoryIo();
  const code = await main(['node', 'margo', ...args], {
    io,
    env: { MARGO_CONFIG: '/nonexistent/c.json' },
    cwd,
    services: {} as Services,
  });
  return { code, out: io.stdout(), err: io.stderr() };
}

describe('margo agent hold|release', () => {
  it('holds the agent state folder with a reason, shows it, releases it (--state before or after the verb)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-hold-'));
    try {
      let r = await margo(['agent', 'hold', '--state', '.', '--reason', 'line 3 batch 7'], dir);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^held: line 3 batch 7 \(since \d{4}-/);
      assert.ok(existsSync(join(dir, 'hold.json')));
      r = await margo(['agent', '--state', '.', 'hold', '--status', '--json'], dir);
      assert.equal(JSON.parse(r.out).reason, 'line 3 batch 7');
      r = await margo(['agent', 'release', '--state', '.'], dir);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^hold released/);
      assert.equal(existsSync(join(dir, 'hold.json')), false);
      r = await margo(['agent', 'hold', '--state', '.'], dir);
      assert.equal(r.code, 2);
      assert.match(r.err, /USAGE_ERROR: .*--reason/);
      r = await margo(['agent', 'hold', '--state', 'missing', '--reason', 'x'], dir);
      assert.equal(r.code, 2);
      assert.match(r.err, /CLI_AGENT_STATE_INVALID/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
