/**
 * A Compose folder -> a Margo Compose Archive (deterministic tar.gz with exactly one top-level
 * folder holding the compose file, margo/specification application-registry.md) and its OCI
 * artifact manifest (`composeArtifact`). Files the compose file names by a relative path must stay
 * inside the folder: the device extracts only the archive, and a `../` would reach outside it.
 */
import posixPath from 'node:path/posix';
import YAML from 'yaml';
import { MargoError } from '@margo-gitops/spec';
import { composeArtifact, EMPTY_CONFIG, ociName, sha256Digest } from '../layout.js';
import {
  COMPOSE_ARTIFACT,
  COMPOSE_LAYER,
  OCI_EMPTY,
  OCI_EMPTY_DIGEST,
  OCI_MANIFEST,
} from '../media-types.js';
import { readFolder } from './folder.js';
import { tarGz, type TarEntry } from './tar.js';

/** Compose file names, the specification's own first. */
export const COMPOSE_FILE_NAMES = [
  'compose.yaml',
  'compose.yml',
  'docker-compose.yaml',
  'docker-compose.yml',
];

export interface PackedBlob {
  bytes: Buffer;
  digest: string;
  size: number;
  mediaType: string;
}

export interface PackedArtifact {
  manifest: { bytes: Buffer; digest: string; mediaType: string; artifactType?: string };
  /** The config blob (the empty `{}` for Compose). */
  config: PackedBlob;
  layers: PackedBlob[];
}

export interface PackedCompose extends PackedArtifact {
  composeFile: string;
  /** Things a person should know that do not stop publishing (e.g. a compose file not named compose.yaml). */
  warnings: string[];
}

/**
 * The relative paths a compose document names that leave its folder (pure). `base` is the compose
 * file's folder inside the package folder ('' = its root). Paths with `${...}` are left alone:
 * their value is only known on the device.
 */
export function composePathsOutside(doc: unknown, base = ''): { field: string; path: string }[] {
  const out: { field: string; path: string }[] = [];
  const check = (field: string, p: unknown) => {
    if (typeof p !== 'string' || !p || p.includes('$') || p.startsWith('/') || p.startsWith('~')) return;
    // Remote build contexts (git URLs, http) are not paths.
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p) || /^git@/.test(p)) return;
    const n = posixPath.normalize(posixPath.join(base || '.', p));
    if (n === '..' || n.startsWith('../')) out.push({ field, path: p });
  };
  if (!doc || typeof doc !== 'object') return out;
  const d = doc as Record<string, any>;
  const list = (v: unknown): any[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
  for (const inc of list(d.include)) check('include', typeof inc === 'object' ? inc?.path : inc);
  for (const [name, s] of Object.entries((d.services ?? {}) as Record<string, any>)) {
    if (!s || typeof s !== 'object') continue;
    const at = `services.${name}`;
    for (const e of list(s.env_file)) check(`${at}.env_file`, typeof e === 'object' ? e?.path : e);
    if (typeof s.build === 'string') check(`${at}.build`, s.build);
    else if (s.build && typeof s.build === 'object') check(`${at}.build.context`, s.build.context);
    if (s.extends && typeof s.extends === 'object') check(`${at}.extends.file`, s.extends.file);
    for (const v of list(s.volumes)) {
      if (typeof v === 'string') {
        const src = v.split(':')[0]!;
        // Short syntax: a bind mount when the source looks like a path; else a named volume.
        if (src.startsWith('.')) check(`${at}.volumes`, src);
      } else if (v && typeof v === 'object' && (v.type === 'bind' || v.type === undefined)) {
        check(`${at}.volumes`, v.source);
      }
    }
  }
  for (const [name, c] of Object.entries((d.configs ?? {}) as Record<string, any>))
    if (c && typeof c === 'object') check(`configs.${name}.file`, c.file);
  return out;
}

/**
 * Packs the Compose folder `dir` as a Margo Compose Archive whose top-level folder is `name`
 * (the component name, made a valid path component). Throws OCI_PACK_INVALID (no compose file,
 * unreadable YAML) and OCI_PACK_PATH_OUTSIDE (a path or link leaving the folder).
 */
export async function packCompose(
  dir: string,
  name: string,
  version: string,
  label = dir,
): Promise<PackedCompose> {
  const top = ociName(name);
  const entries = await readFolder(dir, { prefix: top, label });
  return composeFromEntries(entries, top, version, label);
}

/** Pure part of packCompose. */
export function composeFromEntries(
  entries: TarEntry[],
  top: string,
  version: string,
  label: string,
): PackedCompose {
  const files = new Map(
    entries.filter((e) => e.type === 'file').map((e) => [e.path, e as Extract<TarEntry, { type: 'file' }>]),
  );
  const composeFile = COMPOSE_FILE_NAMES.find((f) => files.has(`${top}/${f}`));
  if (!composeFile)
    throw new MargoError(
      'OCI_PACK_INVALID',
      `${label} holds no compose file (${COMPOSE_FILE_NAMES.join(', ')}) at its top`,
      { data: { path: label } },
    );
  let doc: unknown;
  try {
    doc = YAML.parse(Buffer.from(files.get(`${top}/${composeFile}`)!.data).toString('utf8'));
  } catch (e) {
    throw new MargoError(
      'OCI_PACK_INVALID',
      `${label}/${composeFile} is not valid YAML: ${(e as Error).message}`,
      {
        data: { path: `${label}/${composeFile}` },
      },
    );
  }
  const outside = composePathsOutside(doc);
  if (outside.length) {
    const o = outside[0]!;
    throw new MargoError(
      'OCI_PACK_PATH_OUTSIDE',
      `${label}/${composeFile}: ${o.field} names ${JSON.stringify(o.path)}, outside the Compose folder (only the folder is packed)`,
      { data: { path: `${label}/${composeFile}`, field: o.field, value: o.path } },
    );
  }
  const warnings: string[] = [];
  if (composeFile !== 'compose.yaml')
    warnings.push(
      `${label}/${composeFile}: the Margo specification names the compose file of a Compose Archive compose.yaml`,
    );
  const layer = tarGz(entries);
  return { ...composeArtifactOf(layer, version), composeFile, warnings };
}

/** The artifact of an already packed Compose Archive (its bytes are the single layer). */
export function composeArtifactOf(layer: Buffer, version: string): PackedArtifact {
  const digest = sha256Digest(layer);
  const m = composeArtifact(digest, layer.length, version);
  return {
    manifest: { ...m, mediaType: OCI_MANIFEST, artifactType: COMPOSE_ARTIFACT },
    config: { bytes: EMPTY_CONFIG, digest: OCI_EMPTY_DIGEST, size: 2, mediaType: OCI_EMPTY },
    layers: [{ bytes: layer, digest, size: layer.length, mediaType: COMPOSE_LAYER }],
  };
}
