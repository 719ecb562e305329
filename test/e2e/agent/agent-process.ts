// Runs the agent as a child process (stand-alone entry of packages/agent) so tests can kill -9 it.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

const root = new URL('../../..', import.meta.url).pathname;

export class AgentProcess {
  private child: ChildProcess | null = null;
  lines: string[] = [];
  private waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  readonly configFile: string;

  constructor(
    dir: string,
    config: Record<string, unknown>,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.configFile = join(dir, `agent-${Math.random().toString(36).slice(2, 8)}.yaml`);
    writeFileSync(this.configFile, stringify(config));
  }

  start(): void {
    this.lines = [];
    const child = spawn(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        join(root, 'packages/agent/src/main.ts'),
        '--config',
        this.configFile,
      ],
      {
        cwd: root,
        env: this.env,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let buf = '';
    child.stderr!.on('data', (b: Buffer) => {
      buf += b.toString('utf8');
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.lines.push(line);
        if (process.env.AGENT_TEST_LOG) process.stderr.write(`[agent] ${line}\n`);
        for (const w of [...this.waiters]) {
          if (w.re.test(line)) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    });
    this.child = child;
  }

  /** Resolves with the first (future or already seen) log line matching `re`. */
  waitForLine(re: RegExp, timeoutMs = 60_000): Promise<string> {
    const seen = this.lines.find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `timed out waiting for log line ${re}; last lines:\n${this.lines.slice(-8).join('\n')}`,
            ),
          ),
        timeoutMs,
      );
      this.waiters.push({
        re,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  }

  async kill9(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    const done = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await done;
    this.child = null;
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    const done = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 20_000);
    await done;
    clearTimeout(t);
    this.child = null;
  }
}
