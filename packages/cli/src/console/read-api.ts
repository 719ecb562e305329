/** The console's JSON read endpoints that need more than the shared roll-up: git reads per item. */
import { join } from 'node:path';
import YAML from 'yaml';
import { readRef } from '@margo-gitops/git';
import { MargoError, normaliseDeploymentStatus } from '@margo-gitops/spec';
import { parseAppMeta } from '../app-package.js';
import { compareVersions } from '../commands/app/list.js';
import { deploymentPath } from '../fleet-docs.js';
import { deploymentDiff, fileAt, gitRead, logOf, resolveCommit } from './git-read.js';
import type { Snapshot } from './snapshot.js';

const notFound = (what: string) => new MargoError('CONSOLE_NOT_FOUND', `${what} does not exist`);
const HISTORY_MAX = 50;
const REVISIONS_MAX = 100;

const repos = (dataDir: string) => ({
  fleet: join(dataDir, 'repos', 'fleet.git'),
  catalog: join(dataDir, 'repos', 'catalog.git'),
  device: (id: string) => join(dataDir, 'repos', 'devices', `${id}.git`),
});

function parseYaml(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const v: unknown = YAML.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** `GET /ui/api/devices/:id`. */
export async function deviceDetail(dataDir: string, snap: Snapshot, id: string) {
  const i = snap.deviceIndex.get(id);
  const row = snap.status.devices.find((d) => d.deviceId === id);
  if (i === undefined || !row) throw notFound(`device ${id}`);
  const item = snap.devices[i]!;
  const r = repos(dataDir);
  const gitdir = r.device(id);
  const refused = new Set((row.statusProblems ?? []).map((p) => p.path));
  /** Components from the device's own status file, unless the orchestrator refused that file. */
  const componentsOf = async (deploymentId: string) => {
    const file = `deployments/${deploymentId}.json`;
    const text = refused.has(file) ? undefined : await fileAt(gitdir, 'status', file);
    if (text === undefined) return [];
    try {
      return normaliseDeploymentStatus(JSON.parse(text) as unknown).components.map((c) => ({
        name: c.name,
        state: c.state,
        ...(c.error ? { error: { code: c.error.code, message: c.error.message } } : {}),
      }));
    } catch {
      return [];
    }
  };
  const rows = snap.status.deployments.flatMap((dep) => {
    const dr = dep.devices.find((x) => x.deviceId === id);
    return dr ? [{ dep, dr }] : [];
  });
  // Every git read at once (each is a short git process).
  const [docText, capsText, desired, status, components] = await Promise.all([
    fileAt(r.fleet, 'main', `devices/${id}.yaml`),
    fileAt(gitdir, 'status', 'capabilities.json'),
    logOf(gitdir, 'main', HISTORY_MAX),
    logOf(gitdir, 'status', HISTORY_MAX),
    Promise.all(rows.map(({ dr }) => componentsOf(dr.deploymentId))),
  ]);
  const doc = parseYaml(docText);
  const deployments = rows.map(({ dep, dr }, i) => ({
    name: dep.name,
    deploymentId: dr.deploymentId,
    app: dep.applicationId,
    version: dep.version ?? '',
    state: dr.state,
    ...(dr.error ? { error: dr.error } : {}),
    ...(dr.waiting ? { waiting: dr.waiting } : {}),
    components: components[i]!,
  }));
  return {
    deviceId: id,
    labels: (doc?.labels as Record<string, string> | undefined) ?? {},
    capabilities: parseJson(capsText),
    reporting: item.reporting,
    freshness: item.freshness,
    lastSeenAt: row.lastSeenAt ?? null,
    lastReportAt: row.lastReportAt ?? null,
    observedCommit: row.observedCommit ?? null,
    upToDate: row.upToDate ?? null,
    ...(row.hold ? { hold: row.hold } : {}),
    ...(row.repoError ? { repoError: row.repoError } : {}),
    ...(row.statusProblems?.length ? { statusProblems: row.statusProblems } : {}),
    ...(row.desiredStateProblem ? { desiredStateProblem: row.desiredStateProblem } : {}),
    ...(item.problem ? { problem: item.problem } : {}),
    deployments,
    history: {
      desired: desired.map((e) => ({ commit: e.commit, at: e.at, subject: e.subject })),
      status: status.map((e) => ({
        commit: e.commit,
        at: e.at,
        subject: e.subject,
        transport: e.transport === 'rest' ? 'api' : 'git',
      })),
    },
  };
}

/** `GET /ui/api/deployments/:name`. Secret values are never sent (`value: null, secret: true`). */
export async function deploymentDetail(dataDir: string, snap: Snapshot, name: string) {
  const r = repos(dataDir);
  const path = deploymentPath(name);
  const rollup = snap.status.deployments.find((d) => d.name === name);
  const [text, revisions] = await Promise.all([
    fileAt(r.fleet, 'main', path),
    logOf(r.fleet, 'main', REVISIONS_MAX, path),
  ]);
  if (!rollup && text === undefined && revisions.length === 0) throw notFound(`deployment ${name}`);
  const doc = parseYaml(text) ?? {};
  const app = (doc.application ?? {}) as { id?: string; version?: string };
  const params = (doc.parameters ?? {}) as Record<string, unknown>;
  const secrets = (doc.secrets ?? {}) as Record<string, unknown>;
  const view = snap.rollouts.find((v) => v.name === name);
  return {
    name,
    present: text !== undefined,
    app: rollup?.applicationId ?? app.id ?? '',
    version: rollup?.version ?? (app.version !== undefined ? String(app.version) : ''),
    wantedVersion: app.version !== undefined ? String(app.version) : null,
    targets: doc.targets ?? null,
    parameters: [
      ...Object.entries(params).map(([k, v]) => ({ name: k, value: v, secret: false })),
      ...Object.keys(secrets).map((k) => ({ name: k, value: null, secret: true })),
    ].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    counts: rollup ? Object.fromEntries(Object.entries(rollup.counts).filter(([, n]) => n > 0)) : {},
    rows: (rollup?.devices ?? []).map((d) => ({
      deviceId: d.deviceId,
      state: d.state,
      ...(d.error ? { error: d.error } : {}),
      ...(d.waiting ? { waiting: d.waiting } : {}),
      ...(d.reason ? { reason: d.reason } : {}),
    })),
    rollout: view ?? null,
    revisions: revisions.map((e) => ({ commit: e.commit, at: e.at, author: e.author, subject: e.subject })),
  };
}

/** `GET /ui/api/deployments/:name/diff?from=C1&to=C2`: either side may be empty (the file's creation or removal). */
export async function deploymentDiffView(dataDir: string, name: string, params: URLSearchParams) {
  const fleet = repos(dataDir).fleet;
  const side = async (key: string) => {
    const v = params.get(key);
    if (v === null || v === '') return undefined;
    const c = await resolveCommit(fleet, v);
    if (!c) throw notFound(`fleet commit ${v.slice(0, 40)}`);
    return c;
  };
  const [from, to] = await Promise.all([side('from'), side('to')]);
  if (!from && !to) throw new MargoError('CONSOLE_BAD_REQUEST', 'give from, to or both (fleet commits)');
  // An absent side is the empty tree (git's well-known id), so the file diffs against nothing.
  const EMPTY = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';
  const patch = await deploymentDiff(fleet, from ?? EMPTY, to ?? EMPTY, deploymentPath(name));
  return { from: from ?? null, to: to ?? null, patch };
}

interface CatalogVersion {
  version: string;
  yanked: boolean;
  publishedAt?: string;
}

/**
 * What the catalog lists is read once per catalog commit (a publish moves the head; reading the
 * head is a file read), not with a git process per app on every request.
 */
interface CatalogMemo {
  head: string | null;
  index?: Promise<Map<string, CatalogVersion[]>>;
  list?: Promise<{ apps: CatalogListItem[] }>;
}
interface CatalogListItem {
  id: string;
  name: string;
  latest: string;
  versions: { version: string; yanked: boolean }[];
}
const catalogMemos = new Map<string, CatalogMemo>();

/** The memo of the catalog's current head; `make` fills `key` once (a failure is not kept). */
async function atCatalogHead<K extends 'index' | 'list'>(
  dataDir: string,
  key: K,
  make: (rev: string | null) => NonNullable<CatalogMemo[K]>,
): Promise<Awaited<NonNullable<CatalogMemo[K]>>> {
  const gitdir = repos(dataDir).catalog;
  const head = await readRef(gitdir, 'refs/heads/main').catch(() => null);
  let m = catalogMemos.get(gitdir);
  if (!m || m.head !== head) catalogMemos.set(gitdir, (m = { head }));
  const memo = m;
  if (!memo[key]) {
    const p = make(head);
    memo[key] = p;
    p.catch(() => {
      if (memo[key] === p) delete memo[key];
    });
  }
  return (await memo[key]!) as Awaited<NonNullable<CatalogMemo[K]>>;
}

function catalogIndex(dataDir: string): Promise<Map<string, CatalogVersion[]>> {
  return atCatalogHead(dataDir, 'index', (rev) => readCatalogIndex(dataDir, rev));
}

async function readCatalogIndex(dataDir: string, rev: string | null): Promise<Map<string, CatalogVersion[]>> {
  if (rev === null) return new Map();
  const out = await gitRead(repos(dataDir).catalog, ['ls-tree', '-r', '--name-only', rev], {
    missing: [128],
  });
  const apps = new Map<string, Map<string, CatalogVersion>>();
  for (const p of (out ?? '').split('\n')) {
    const m = /^([^/]+)\/([^/]+)\/(margo\.yaml|yanked\.yaml)$/.exec(p);
    if (!m) continue;
    let versions = apps.get(m[1]!);
    if (!versions) apps.set(m[1]!, (versions = new Map()));
    const v = versions.get(m[2]!) ?? { version: m[2]!, yanked: false };
    if (m[3] === 'yanked.yaml') v.yanked = true;
    versions.set(m[2]!, v);
  }
  return new Map(
    [...apps].map(([id, vs]) => [id, [...vs.values()].sort((a, b) => compareVersions(b.version, a.version))]),
  );
}

const latestOf = (versions: CatalogVersion[]) =>
  (versions.find((v) => !v.yanked) ?? versions[0])?.version ?? '';

async function appMeta(dataDir: string, id: string, version: string, rev = 'main') {
  const text = await fileAt(repos(dataDir).catalog, rev, `${id}/${version}/margo.yaml`);
  if (text === undefined) return undefined;
  try {
    return { meta: parseAppMeta(text, `${id}/${version}/margo.yaml`), doc: parseYaml(text) ?? {} };
  } catch {
    return undefined;
  }
}

/** `GET /ui/api/catalog`. */
export function catalogList(dataDir: string): Promise<{ apps: CatalogListItem[] }> {
  return atCatalogHead(dataDir, 'list', async (rev) => {
    const index = await catalogIndex(dataDir);
    const apps: CatalogListItem[] = [];
    for (const [id, versions] of [...index].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const latest = latestOf(versions);
      const m = await appMeta(dataDir, id, latest, rev ?? 'main');
      apps.push({
        id,
        name: m?.meta.name ?? id,
        latest,
        versions: versions.map((v) => ({ version: v.version, yanked: v.yanked })),
      });
    }
    return { apps };
  });
}

/**
 * `GET /ui/api/catalog/:id`: the latest version's description as markdown source: the file its
 * `catalog.application.descriptionFile` names, else the package's README.md, else `description`.
 */
export async function catalogApp(dataDir: string, id: string) {
  if (!/^[a-z0-9-]{1,200}$/.test(id)) throw notFound(`application ${id.slice(0, 60)}`);
  const versions = (await catalogIndex(dataDir)).get(id);
  if (!versions) throw notFound(`application ${id}`);
  const latest = latestOf(versions);
  const catalog = repos(dataDir).catalog;
  const m = await appMeta(dataDir, id, latest);
  const md = (m?.doc.metadata ?? {}) as Record<string, unknown>;
  const descFile = (
    (md.catalog as Record<string, unknown> | undefined)?.application as Record<string, unknown> | undefined
  )?.descriptionFile;
  let description: string | undefined;
  if (typeof descFile === 'string' && !descFile.split('/').includes('..'))
    description = await fileAt(catalog, 'main', `${id}/${latest}/${descFile.replace(/^\.\//, '')}`);
  description ??= await fileAt(catalog, 'main', `${id}/${latest}/README.md`);
  description ??= m?.meta.description ?? '';
  // When each version folder first appeared: one log walk over the app's folder.
  const added = await gitRead(
    catalog,
    [
      'log',
      '--reverse',
      '--diff-filter=A',
      '--format=%x1e%cI',
      '--name-only',
      'main',
      '--',
      `${id}/*/margo.yaml`,
    ],
    { missing: [128] },
  );
  const publishedAt = new Map<string, string>();
  for (const block of (added ?? '').split('\x1e')) {
    const [at, ...files] = block.trim().split('\n');
    for (const f of files) {
      const v = /^[^/]+\/([^/]+)\/margo\.yaml$/.exec(f.trim())?.[1];
      if (v && at && !publishedAt.has(v)) publishedAt.set(v, at.trim());
    }
  }
  return {
    id,
    name: m?.meta.name ?? id,
    latest,
    description,
    versions: versions.map((v) => ({
      ...v,
      ...(publishedAt.has(v.version) ? { publishedAt: publishedAt.get(v.version)! } : {}),
    })),
  };
}
