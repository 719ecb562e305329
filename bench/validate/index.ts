/**
 * Benchmark: validate a catalog of 1,000 application packages (margo.yaml + catalog resources),
 * varied in size, and compare with floors measured in the same run on the same files: reading and
 * parsing with js-yaml (the parser validation uses for anchor-free files; the floor), and reading
 * and parsing with `yaml` with positions (what every file would cost without the fast path).
 *
 * Run: node --conditions=source --import tsx bench/validate/index.ts [packages]
 * (KEEP=1 keeps the generated catalog and prints its folder.)
 * Target: the whole catalog in under 1 s.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import jsyaml from 'js-yaml';
import { parseDocument as parseYaml, LineCounter, stringify } from 'yaml';
import { validatePaths } from '@margo-gitops/spec';

const COUNT = Number(process.argv[2] ?? 1000);

/** A deterministic pseudo-random generator so every run builds the same catalog. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function makeApp(i: number, rand: () => number): Record<string, unknown> {
  const id = `com-bench-app-${i}`;
  const nHelm = 1 + Math.floor(rand() * 4);
  const nParams = 2 + Math.floor(rand() * 40);
  const helm = Array.from({ length: nHelm }, (_, c) => ({
    name: `svc-${c}`,
    properties: {
      repository: `oci://registry.local/charts/app-${i}-svc-${c}`,
      revision: `1.${c}.${i % 10}`,
      wait: true,
      timeout: '5m30s',
    },
  }));
  const profiles: Record<string, unknown>[] = [
    {
      type: 'helm.v3',
      id: `${id}-helm`,
      components: helm,
      requiredResources: {
        cpu: { cores: 0.5, architectures: ['amd64', 'arm64'] },
        memory: '512Mi',
        storage: '1Gi',
      },
    },
  ];
  const withCompose = rand() < 0.7;
  if (withCompose)
    profiles.push({
      type: 'compose',
      id: `${id}-compose`,
      components: [
        {
          name: 'stack',
          properties: {
            packageLocation: `https://files.local/${id}.tar.gz`,
            keyLocation: `https://files.local/${id}.asc`,
          },
        },
      ],
    });
  const parameters: Record<string, unknown> = {};
  const settings: Record<string, unknown>[] = [];
  const schema: Record<string, unknown>[] = [
    {
      name: 'text',
      dataType: 'string',
      minLength: 1,
      maxLength: 64,
      regexMatch: '^[A-Za-z0-9 ._-]+$',
      allowEmpty: false,
    },
    { name: 'count', dataType: 'integer', minValue: 1, maxValue: 1000, allowEmpty: false },
    { name: 'ratio', dataType: 'double', minValue: 0, maxValue: 1, maxPrecision: 3, allowEmpty: true },
    { name: 'flag', dataType: 'boolean' },
    { name: 'mode', dataType: 'string', options: ['fast', 'safe', 'off'] },
  ];
  const values: [string, unknown][] = [
    ['text', 'Hello world'],
    ['count', 10],
    ['ratio', 0.25],
    ['flag', true],
    ['mode', 'safe'],
  ];
  for (let p = 0; p < nParams; p++) {
    const [schemaName, value] = values[p % values.length]!;
    const name = `param${p}`;
    const targets: Record<string, unknown>[] = [
      { pointer: `config.section${p % 5}.key${p}`, components: [`svc-${p % nHelm}`] },
    ];
    if (withCompose) targets.push({ pointer: `ENV.PARAM_${p}`, components: ['stack'] });
    parameters[name] = { value, targets };
    settings.push({
      parameter: name,
      name: `Parameter ${p}`,
      description: `Setting number ${p}`,
      schema: schemaName,
      immutable: p % 7 === 0,
    });
  }
  return {
    apiVersion: 'margo.org/v1-alpha1',
    kind: 'ApplicationDescription',
    id,
    metadata: {
      name: `Bench app ${i}`,
      description: 'Generated for the validation benchmark',
      version: `1.${i % 13}.${i % 7}`,
      catalog: {
        application: {
          icon: './resources/icon.png',
          descriptionFile: './resources/description.md',
          tags: ['bench'],
        },
        author: [{ name: 'Bench', email: 'bench@example.com' }],
        organization: [{ name: 'Bench Org', site: 'http://bench.example.com' }],
      },
    },
    deploymentProfiles: profiles,
    parameters,
    configuration: { sections: [{ name: 'General', settings }], schema },
  };
}

async function main() {
  const root = await mkdtemp(join(tmpdir(), 'margo-bench-validate-'));
  try {
    const rand = rng(42);
    const files: string[] = [];
    let bytes = 0;
    for (let i = 0; i < COUNT; i++) {
      const dir = join(root, `com-bench-app-${i}`, `1.${i % 13}.${i % 7}`);
      await mkdir(join(dir, 'resources'), { recursive: true });
      const text = stringify(makeApp(i, rand));
      bytes += text.length;
      await writeFile(join(dir, 'margo.yaml'), text);
      await writeFile(join(dir, 'resources', 'icon.png'), 'png');
      await writeFile(join(dir, 'resources', 'description.md'), '# App\n');
      files.push(join(dir, 'margo.yaml'));
    }
    const rssBefore = process.resourceUsage().maxRSS;

    // Floor: read each file and parse it with js-yaml (core schema), no validation.
    // Each phase reports wall time and the CPU time of this process (user + system). On a busy
    // machine wall time includes waiting for a core; CPU time is what the work itself costs.
    type Cost = { wall: number; cpu: number };
    const measure = async (fn: () => Promise<void>): Promise<Cost> => {
      const c = process.cpuUsage();
      const t = performance.now();
      await fn();
      const used = process.cpuUsage(c);
      return { wall: performance.now() - t, cpu: (used.user + used.system) / 1000 };
    };
    const best = (a: Cost, b: Cost): Cost => ({
      wall: Math.min(a.wall, b.wall),
      cpu: Math.min(a.cpu, b.cpu),
    });
    // Floor: read each file and parse it with js-yaml (core schema), no validation.
    const floor = () =>
      measure(async () => {
        for (const f of files) jsyaml.load(await readFile(f, 'utf8'), { schema: jsyaml.CORE_SCHEMA });
      });
    // Reference: read + parse with `yaml` keeping positions (the slow parser).
    const positions = () =>
      measure(async () => {
        for (const f of files)
          parseYaml(await readFile(f, 'utf8'), { lineCounter: new LineCounter() }).toJS();
      });
    const validate = () =>
      measure(async () => {
        const results = await validatePaths([root]);
        const bad = results.filter((r) => r.findings.some((f) => f.severity === 'error'));
        if (results.length !== COUNT || bad.length)
          throw new Error(
            `expected ${COUNT} valid packages, got ${results.length} (${bad.length} invalid): ${JSON.stringify(bad[0]?.findings[0])}`,
          );
      });
    // First runs are cold (JIT, schema compilation); then the best of five warm runs each,
    // interleaved so that load from other processes hits both alike.
    const floorCold = await floor();
    const cold = await validate();
    let floorWarm: Cost = { wall: Infinity, cpu: Infinity };
    let warm: Cost = { wall: Infinity, cpu: Infinity };
    for (let r = 0; r < 5; r++) {
      floorWarm = best(floorWarm, await floor());
      warm = best(warm, await validate());
    }
    const withPositions = await positions();
    const rss = process.resourceUsage().maxRSS;

    const line = (label: string, c: Cost, base: Cost) =>
      `${label.padEnd(38)} wall ${c.wall.toFixed(0).padStart(6)} ms (${((COUNT / c.wall) * 1000).toFixed(0).padStart(5)} files/s, ${(c.wall / base.wall).toFixed(2)}x floor)   cpu ${c.cpu.toFixed(0).padStart(6)} ms (${((COUNT / c.cpu) * 1000).toFixed(0).padStart(5)} files/s, ${(c.cpu / base.cpu).toFixed(2)}x floor)`;
    console.log(
      `machine: ${cpus().length} cores, load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    console.log(
      `catalog: ${COUNT} packages, margo.yaml total ${(bytes / 1024 / 1024).toFixed(1)} MiB (avg ${(bytes / COUNT / 1024).toFixed(1)} KiB)`,
    );
    console.log(line('floor (read + js-yaml), cold', floorCold, floorCold));
    console.log(line('validate catalog, cold', cold, floorCold));
    console.log(line('floor (read + js-yaml), warm best/5', floorWarm, floorWarm));
    console.log(line('validate catalog, warm best/5', warm, floorWarm));
    console.log(line('reference: read + yaml with positions', withPositions, floorWarm));
    console.log(
      `peak RSS: ${(rss / 1024).toFixed(0)} MiB (after generating the catalog: ${(rssBefore / 1024).toFixed(0)} MiB)`,
    );
    console.log(
      `target < 1000 ms for the whole catalog: wall ${cold.wall < 1000 ? 'met' : 'MISSED'} (cold ${cold.wall.toFixed(0)} ms, warm ${warm.wall.toFixed(0)} ms); cpu ${cold.cpu < 1000 ? 'met' : 'MISSED'} (cold ${cold.cpu.toFixed(0)} ms, warm ${warm.cpu.toFixed(0)} ms)`,
    );
  } finally {
    if (!process.env.KEEP) await rm(root, { recursive: true, force: true });
    else console.log(root);
  }
}

await main();
