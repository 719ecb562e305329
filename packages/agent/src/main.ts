import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Agent } from './agent.js';
import { loadAgentConfig } from './config/load-agent-config.js';
import { setServerCredentials } from './drivers/obtain-package.js';
import { createAgentLogger } from './logger.js';

/**
 * Minimal stand-alone entry (`node .../main.js --config agent.yaml --poll-interval-seconds 5`):
 * flags are `--<kebab-case setting> <value>`. The `margo agent` command of the CLI is the
 * supported front end; this one exists for tests, benchmarks and images without the CLI.
 * Returns the process exit code.
 */
export async function runAgentMain(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const flags: Record<string, unknown> = {};
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      process.stderr.write(`unexpected argument ${a}\n`);
      return 2;
    }
    const [k, inline] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const v = inline ?? argv[++i];
    if (v === undefined) {
      process.stderr.write(`--${k} needs a value\n`);
      return 2;
    }
    if (k === 'config') file = v;
    else flags[k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = v;
  }
  const { config, problems } = loadAgentConfig({ ...(file ? { file } : {}), env, flags });
  if (problems.length) {
    for (const p of problems) process.stderr.write(`AGENT_CONFIG_INVALID ${p.path}: ${p.message}\n`);
    return 2;
  }
  const logger = createAgentLogger({ level: config.logLevel, deviceId: config.deviceId });
  // Catalog downloads from the device's own server carry its Git token (and only there).
  setServerCredentials(config.repoUrl, config.token);
  const agent = new Agent({ config, logger });
  const stop = () => void agent.stop();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await agent.start();
  return 0;
}

const self = fileURLToPath(import.meta.url);
if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(self)) {
  runAgentMain(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`INTERNAL_ERROR ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
