import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryIo } from './io.js';
import { createProgress } from './progress.js';

describe('progress', () => {
  it('plain lines when not a TTY (no escape codes)', () => {
    const io = memoryIo();
    const pr = createProgress(io);
    const t = pr.task('clone catalog');
    t.update('50%');
    t.update('50%');
    t.done('3 files');
    pr.task('push').fail('rejected');
    pr.stop();
    assert.equal(
      io.stderr(),
      'clone catalog...\n  clone catalog: 50%\nok clone catalog: 3 files\npush...\nFAILED push: rejected\n',
    );
  });

  it('a live list redraws in place on a TTY', () => {
    const io = memoryIo({ errIsTTY: true });
    const pr = createProgress(io, { intervalMs: 10_000 });
    const t = pr.task('a');
    pr.task('b').done();
    t.done();
    pr.stop();
    assert.match(io.stderr(), /\u001b\[2A/); // cursor moved up over the two lines
    assert.match(io.stderr(), /✔ a\n\u001b\[2K✔ b\n$/);
  });
});
