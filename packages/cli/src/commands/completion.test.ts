import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { memoryIo } from '../io.js';
import { main } from '../main.js';

async function script(shell: string) {
  const io = memoryIo();
  const code = await main(['node', 'margo', 'completion', shell], { io, env: {} });
  return { code, out: io.stdout(), err: io.stderr() };
}

/** Completes `line` with the generated bash script in a real bash. */
function complete(src: string, words: string[]): string[] {
  const cword = words.length - 1;
  const prog = `${src}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${cword}; _margo; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['-c', prog], { encoding: 'utf8', cwd: '/' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

describe('margo completion', () => {
  it('bash: a valid script that completes commands, subcommands and options', async () => {
    const r = await script('bash');
    assert.equal(r.code, 0);
    assert.equal(spawnSync('bash', ['-n'], { input: r.out }).status, 0);
    assert.deepEqual(complete(r.out, ['margo', 'dep']), ['deploy']);
    assert.deepEqual(complete(r.out, ['margo', 'device', 'l']).sort(), ['label', 'list']);
    assert.ok(complete(r.out, ['margo', 'deploy', 'x', '--se']).includes('--selector'));
    assert.deepEqual(complete(r.out, ['margo', 'status', '-o', 'j']), ['json']);
  });

  it('zsh: wraps the bash script with bashcompinit', async () => {
    const r = await script('zsh');
    assert.equal(r.code, 0);
    assert.match(r.out, /^#compdef margo/);
    assert.match(r.out, /bashcompinit/);
  });

  it('other shells are a usage error', async () => {
    const r = await script('fish');
    assert.equal(r.code, 2);
    assert.match(r.err, /error USAGE_ERROR: no completion for shell "fish"/);
  });
});
