// Helpers of the orchestrator integration tests: real bare repositories driven by the git binary.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_DATE: '', GIT_COMMITTER_DATE: '' },
  }).trim();
}

export function bareGit(gitdir: string, ...args: string[]): string {
  return execFileSync('git', ['--git-dir', gitdir, ...args], { encoding: 'utf8' }).trim();
}

/** A scratch work tree that pushes to one branch of a bare repository. */
export class WorkTree {
  readonly dir: string;
  constructor(
    root: string,
    readonly remote: string,
    readonly branch: string,
    readonly who = { name: 'Olivia Operator', email: 'olivia@example.com' },
  ) {
    this.dir = mkdtempSync(join(root, 'wt-'));
    git(this.dir, 'init', '-q', '-b', branch);
    git(this.dir, 'config', 'user.name', who.name);
    git(this.dir, 'config', 'user.email', who.email);
  }
  write(files: Record<string, string | null>, message: string): string {
    for (const [p, content] of Object.entries(files)) {
      const abs = join(this.dir, p);
      if (content === null) rmSync(abs, { force: true });
      else {
        mkdirSync(dirname(abs), { recursive: true });
        writeFileSync(abs, content);
      }
    }
    git(this.dir, 'add', '-A');
    git(this.dir, 'commit', '-q', '--allow-empty', '-m', message);
    git(this.dir, 'push', '-q', '-f', this.remote, `HEAD:refs/heads/${this.branch}`);
    return git(this.dir, 'rev-parse', 'HEAD');
  }
}

export function tempRoot(prefix: string): { root: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), prefix));
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export function helloYaml(version: string): string {
  return `apiVersion: margo.org/v1-alpha1
kind: ApplicationDescription
metadata:
  id: hello
  name: Hello
  version: ${version}
  catalog:
    organization: [{name: Acme}]
deploymentProfiles:
  - type: helm.v3
    id: hello-helm
    components:
      - name: hello-chart
        properties:
          repository: oci://127.0.0.1:5000/charts/hello
          revision: ${version}
  - type: compose
    id: hello-compose
    requiredResources:
      cpu: {cores: 1}
      memory: 4Gi
    components:
      - name: hello-compose
        properties:
          repository: oci://registry.example.invalid/hello/hello-compose
          revision: ${version}
parameters:
  greeting:
    value: hello
    targets:
      - {pointer: greeting, components: [hello-chart]}
      - {pointer: ENV.GREETING, components: [hello-compose]}
configuration:
  sections:
    - name: General
      settings:
        - {parameter: greeting, name: Greeting, schema: text}
  schema:
    - {name: text, dataType: string, maxLength: 40, allowEmpty: false}
`;
}

export function capabilities(id: string, role: string, memory: string): string {
  return JSON.stringify({
    apiVersion: 'device.margo/v1',
    kind: 'DeviceCapabilities',
    properties: {
      id,
      vendor: 'Acme',
      modelNumber: 'X1',
      serialNumber: `SN-${id}`,
      roles: [role],
      resources: { cpus: [{ cpuArchitecture: 'amd64', cores: 4, frequency: 2 }], memory, storage: '100Gi' },
      peripherals: [],
      interfaces: [],
    },
  });
}
