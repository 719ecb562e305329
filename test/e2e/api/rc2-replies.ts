/**
 * Checks replies of the Workload Management API against the upstream rc.2 OpenAPI schemas by
 * their content type, collecting violations (a test asserts there are none at the end): the
 * manifest, each deployment document, the bundle (unpacked with the stock `tar`, as a device
 * would, each file a deployment document), every problem body; 304/204 must have no body and
 * 200/201 write answers no content (the spec gives them none). Anything else is a violation too.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { openApiViolations } from '../../conformance/openapi.js';
import type { Reply } from '../../integration/api/fleet.js';

export const MANIFEST_TYPE = 'application/vnd.margo.manifest.v1+json';
export const BUNDLE_TYPE = 'application/vnd.margo.bundle.v1+tar+gzip';
export const PROBLEM_TYPE = 'application/problem+json';

export class Rc2Replies {
  readonly violations: string[] = [];
  /** Replies checked, by schema (or `no content`). */
  readonly checked = new Map<string, number>();
  private bundles = 0;

  /** `dir`: where bundles are unpacked (one numbered folder each). */
  constructor(private readonly dir: string) {}

  /** The folder the last checked bundle was unpacked into. */
  get lastBundleDir(): string {
    return join(this.dir, String(this.bundles));
  }

  /** Checks `r` (what: shown with each violation, e.g. `GET /api/v1/deployments`). */
  async check(what: string, r: Reply): Promise<void> {
    const type = String(r.headers['content-type'] ?? '');
    const text = () => r.body.toString('utf8');
    if (r.status === 304 || r.status === 204) {
      if (r.body.length) this.violations.push(`${what}: ${r.status} with a body`);
      this.count('no content');
    } else if (type === PROBLEM_TYPE) this.add(what, 'ProblemDetail', JSON.parse(text()));
    else if (type === MANIFEST_TYPE) this.add(what, 'UnsignedAppStateManifest', JSON.parse(text()));
    else if (type === 'application/yaml') this.add(what, 'appDeploymentManifest', parse(text()));
    else if (type === BUNDLE_TYPE) {
      const into = join(this.dir, String(++this.bundles));
      await mkdir(into, { recursive: true });
      await writeFile(`${into}.tgz`, r.body);
      execFileSync('tar', ['-xzf', `${into}.tgz`, '-C', into]);
      for (const name of await readdir(into))
        this.add(`${what} ${name}`, 'appDeploymentManifest', parse(await readFile(join(into, name), 'utf8')));
    } else if ((r.status === 200 || r.status === 201) && r.body.length === 0) this.count('no content');
    else this.violations.push(`${what}: ${r.status} ${type || 'no content type'} is not in the rc.2 API`);
  }

  /** Checks a document against one schema (e.g. a status file a device sent). */
  add(what: string, schema: string, doc: unknown): void {
    this.violations.push(...openApiViolations(schema, doc).map((v) => `${what} ${schema}: ${v}`));
    this.count(schema);
  }

  private count(k: string): void {
    this.checked.set(k, (this.checked.get(k) ?? 0) + 1);
  }
}
