/**
 * A Helm chart folder -> the chart .tgz `helm package` would write (the chart folder, named after
 * the chart, at the archive root; here deterministic) and the Helm OCI artifact `helm push` would
 * write: config HELM_CONFIG = the Chart.yaml metadata as JSON (helm's own field order, so `helm
 * show chart` reads it back), one HELM_CHART_LAYER layer. No `created` annotation: it would make
 * the digest depend on the day. `.helmignore` is not interpreted (the whole folder is packed).
 */
import YAML from 'yaml';
import { MargoError } from '@margo-gitops/spec';
import { jsonBytes, sha256Digest } from '../layout.js';
import { HELM_CHART_LAYER, HELM_CONFIG, OCI_MANIFEST } from '../media-types.js';
import type { PackedArtifact } from './compose.js';
import { readFolder } from './folder.js';
import { tarGz, type TarEntry } from './tar.js';

/** JSON field order of helm's chart.Metadata (Go struct order, empty fields omitted). */
const METADATA_FIELDS = [
  'name',
  'home',
  'sources',
  'version',
  'description',
  'keywords',
  'maintainers',
  'icon',
  'apiVersion',
  'condition',
  'tags',
  'appVersion',
  'deprecated',
  'annotations',
  'kubeVersion',
  'dependencies',
  'type',
] as const;

const SEMVER =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

export interface ChartMeta {
  name: string;
  version: string;
  /** The config blob content (JSON of the metadata). */
  json: Record<string, unknown>;
}

const sortKeys = (o: Record<string, unknown>) =>
  Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [k, o[k]]),
  );

/** Reads and checks Chart.yaml (pure). Throws OCI_PACK_INVALID. */
export function parseChartYaml(text: string, where: string): ChartMeta {
  let doc: Record<string, any>;
  try {
    doc = YAML.parse(text) as Record<string, any>;
  } catch (e) {
    throw new MargoError('OCI_PACK_INVALID', `${where}: not valid YAML: ${(e as Error).message}`, {
      data: { path: where },
    });
  }
  if (!doc || typeof doc !== 'object')
    throw new MargoError('OCI_PACK_INVALID', `${where}: not a YAML mapping`, { data: { path: where } });
  const name = doc.name;
  const version = doc.version === undefined ? undefined : String(doc.version);
  if (typeof name !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name))
    throw new MargoError('OCI_PACK_INVALID', `${where}: name must be a chart name (lower case, digits, -)`, {
      data: { path: where },
    });
  if (!version || !SEMVER.test(version))
    throw new MargoError('OCI_PACK_INVALID', `${where}: version must be SemVer (Helm refuses others)`, {
      data: { path: where },
    });
  if (doc.apiVersion !== 'v1' && doc.apiVersion !== 'v2')
    throw new MargoError('OCI_PACK_INVALID', `${where}: apiVersion must be v1 or v2`, {
      data: { path: where },
    });
  const json: Record<string, unknown> = {};
  for (const k of METADATA_FIELDS) {
    let v = k === 'version' ? version : doc[k];
    if (v === undefined || v === null || v === '' || v === false) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (k === 'annotations' && typeof v === 'object') v = sortKeys(v as Record<string, unknown>);
    if (k === 'appVersion') v = String(v);
    json[k] = v;
  }
  return { name, version, json };
}

export interface PackedChart extends PackedArtifact {
  chart: ChartMeta;
}

/** Packs the chart folder `dir` (throws OCI_PACK_INVALID, OCI_PACK_PATH_OUTSIDE). */
export async function packHelmChart(dir: string, label = dir): Promise<PackedChart> {
  // Read once without a prefix to learn the chart name, then place everything under it.
  const raw = await readFolder(dir, { prefix: '', label });
  const chartYaml = raw.find((e) => e.path === 'Chart.yaml');
  if (chartYaml?.type !== 'file')
    throw new MargoError('OCI_PACK_INVALID', `${label} holds no Chart.yaml`, { data: { path: label } });
  const meta = parseChartYaml(Buffer.from(chartYaml.data).toString('utf8'), `${label}/Chart.yaml`);
  const entries: TarEntry[] = [
    { path: meta.name, type: 'dir' },
    ...raw.map((e) => ({ ...e, path: `${meta.name}/${e.path}` })),
  ];
  return helmArtifact(meta, tarGz(entries));
}

/** The Helm OCI artifact of a packed chart (pure). */
export function helmArtifact(meta: ChartMeta, chartTgz: Buffer): PackedChart {
  const config = jsonBytes(meta.json);
  const layer = {
    bytes: chartTgz,
    digest: sha256Digest(chartTgz),
    size: chartTgz.length,
    mediaType: HELM_CHART_LAYER,
  };
  const cfg = { bytes: config, digest: sha256Digest(config), size: config.length, mediaType: HELM_CONFIG };
  const annotations: Record<string, string> = {};
  if (typeof meta.json.description === 'string')
    annotations['org.opencontainers.image.description'] = meta.json.description;
  annotations['org.opencontainers.image.title'] = meta.name;
  annotations['org.opencontainers.image.version'] = meta.version;
  const manifest = jsonBytes({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: cfg.mediaType, digest: cfg.digest, size: cfg.size },
    layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
    annotations,
  });
  return {
    manifest: { bytes: manifest, digest: sha256Digest(manifest), mediaType: OCI_MANIFEST },
    config: cfg,
    layers: [layer],
    chart: meta,
  };
}
