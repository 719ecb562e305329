// Access to the real-component testbed from tests (see test/testbed/README.md).
//
//   import { requireComponent } from '../testbed/env.ts';
//   test('...', async (t) => {
//     const tb = requireComponent(t, 'docker');
//     if (!tb) return; // skipped (loudly) because the testbed is not up
//     ...
//   });
//
// With MARGO_REQUIRE_TESTBED=1 (CI) a missing component throws instead of skipping.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Component = 'docker' | 'registry' | 'image' | 'helm' | 'charts' | 'git' | 'kube' | 'otelcol';

export interface Testbed {
  /** Path of the env.json that was read. */
  file: string;
  /** The .testbed runtime directory. */
  dir: string;
  /** Components that `up` brought up. */
  components: Component[];
  /** Every variable of env.json (MARGO_TB_*, DOCKER_HOST, KUBECONFIG). */
  vars: Record<string, string>;
  dockerHost?: string;
  /** Compose command as argv prefix: ['docker', 'compose'] or ['docker-compose']. */
  compose?: string[];
  registry?: string;
  registryAuth?: string;
  registryUser?: string;
  registryPassword?: string;
  image?: string;
  imagePrivate?: string;
  /** Public references (e.g. `busybox:1.36.1`) loaded into the Docker engine under that exact name. */
  publicImages: string[];
  helm?: string;
  chartRepo?: string;
  chartRepoAuth?: string;
  kubeconfig?: string;
  kubeApi?: string;
  kubeNode?: string;
  kwok: boolean;
  gitHttp?: string;
  gitHttpAuth?: string;
  gitRoot?: string;
  gitUser?: string;
  gitPassword?: string;
  gitSeedRepo?: string;
  /** OpenTelemetry Collector, OTLP/HTTP base URL (`http://127.0.0.1:14318`). */
  otelcolEndpoint?: string;
  /** File the collector appends what it receives to (OTLP JSON, one export request per line). */
  otelcolFile?: string;
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where env.json is looked for: $MARGO_TB_ENV_FILE, $MARGO_TB_DIR/env.json, <repo>/.testbed/env.json. */
export function testbedEnvFile(): string {
  if (process.env.MARGO_TB_ENV_FILE) return process.env.MARGO_TB_ENV_FILE;
  if (process.env.MARGO_TB_DIR) return join(process.env.MARGO_TB_DIR, 'env.json');
  return join(repoRoot, '.testbed', 'env.json');
}

/** Reads the testbed's env.json; undefined when the testbed is not up. */
export function loadTestbed(): Testbed | undefined {
  const file = testbedEnvFile();
  if (!existsSync(file)) return undefined;
  const vars = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  const v = (k: string): string | undefined =>
    vars[k] === undefined || vars[k] === '' ? undefined : vars[k];
  return {
    file,
    dir: v('MARGO_TB_DIR') ?? dirname(file),
    components: (v('MARGO_TB_COMPONENTS') ?? '').split(/\s+/).filter(Boolean) as Component[],
    vars,
    dockerHost: v('MARGO_TB_DOCKER_HOST'),
    compose: v('MARGO_TB_COMPOSE')?.split(/\s+/),
    registry: v('MARGO_TB_REGISTRY'),
    registryAuth: v('MARGO_TB_REGISTRY_AUTH'),
    registryUser: v('MARGO_TB_REGISTRY_USER'),
    registryPassword: v('MARGO_TB_REGISTRY_PASSWORD'),
    image: v('MARGO_TB_IMAGE'),
    imagePrivate: v('MARGO_TB_IMAGE_PRIVATE'),
    publicImages: (v('MARGO_TB_PUBLIC_IMAGES') ?? '').split(/\s+/).filter(Boolean),
    helm: v('MARGO_TB_HELM'),
    chartRepo: v('MARGO_TB_CHART_REPO'),
    chartRepoAuth: v('MARGO_TB_CHART_REPO_AUTH'),
    kubeconfig: v('MARGO_TB_KUBECONFIG'),
    kubeApi: v('MARGO_TB_KUBE_API'),
    kubeNode: v('MARGO_TB_KUBE_NODE'),
    kwok: v('MARGO_TB_KWOK') === '1',
    gitHttp: v('MARGO_TB_GIT_HTTP'),
    gitHttpAuth: v('MARGO_TB_GIT_HTTP_AUTH'),
    gitRoot: v('MARGO_TB_GIT_ROOT'),
    gitUser: v('MARGO_TB_GIT_USER'),
    gitPassword: v('MARGO_TB_GIT_PASSWORD'),
    gitSeedRepo: v('MARGO_TB_GIT_SEED_REPO'),
    otelcolEndpoint: v('MARGO_TB_OTELCOL_ENDPOINT'),
    otelcolFile: v('MARGO_TB_OTELCOL_FILE'),
  };
}

/** The process environment for child processes that talk to the testbed (DOCKER_HOST, KUBECONFIG, ...). */
export function testbedProcessEnv(tb: Testbed, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...tb.vars, ...extra };
}

interface SkippableContext {
  skip(message?: string): void;
}

/**
 * Returns the testbed when every named component is up. Otherwise skips the test with a loud
 * reason - or throws when MARGO_REQUIRE_TESTBED=1, so that CI cannot pass by skipping.
 */
export function requireComponent(t: SkippableContext, name: Component | Component[]): Testbed | undefined {
  const names = Array.isArray(name) ? name : [name];
  const tb = loadTestbed();
  const missing = tb ? names.filter((n) => !tb.components.includes(n)) : names;
  if (tb && missing.length === 0) return tb;
  const reason = tb
    ? `testbed component(s) ${missing.join(', ')} not up (have: ${tb.components.join(' ') || 'none'}; ${tb.file})`
    : `testbed is not up (${testbedEnvFile()} missing)`;
  if (process.env.MARGO_REQUIRE_TESTBED === '1') {
    throw new Error(`MARGO_REQUIRE_TESTBED=1 but ${reason}; run test/testbed/up`);
  }
  const msg = `SKIPPED (real components missing): ${reason}; run test/testbed/up`;
  process.stderr.write(`\n*** ${msg} ***\n`);
  t.skip(msg);
  return undefined;
}
