/**
 * Fetches the one layer a component needs from its OCI artifact (`repository` + `revision`, or the
 * manifest digest pinned in the signed desired state) with the Distribution client of
 * @margo-gitops/oci: the manifest by the pinned digest when there is one (its bytes must hash to
 * it), else by tag; the layer streamed to a file, bounded by the agent's limit, hashed against the
 * manifest's descriptor and renamed into place only once verified. Failures become AGENT_ARTIFACT_*
 * (digest mismatch, not found, auth refused, too large) or AGENT_PACKAGE_* codes.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { isMargoError, MargoError } from '@margo-gitops/spec';
import {
  COMPOSE_LAYER,
  HELM_CHART_LAYER,
  isDigest,
  parseManifest,
  parseOciRepository,
  pullBlob,
  pullManifest,
  tagForVersion,
  type Descriptor,
  type RegistryTarget,
} from '@margo-gitops/oci';
import type { ComponentContext, RegistryCredentials } from './driver.js';
import { registryAccess, type RegistryAccess, type RegistrySettings } from './registry-access.js';

export type ArtifactKind = 'compose' | 'helm';

export interface ArtifactRequest {
  /** `oci://host[:port]/name`. */
  repository: string;
  /** SemVer revision (`+` becomes `_` in the tag) or a `sha256:` digest. */
  revision: string;
  /** Pinned manifest digest (`x-margo-gitops-extensions.digest`). */
  digest?: string;
  kind: ArtifactKind;
  settings: RegistrySettings;
  /** The deployment's MARGO_REGISTRY_* credentials (sent only to their own host). */
  deploymentCredentials?: RegistryCredentials;
  timeoutMs: number;
  /** Folder the layer file is written to. */
  dir: string;
  fetch?: typeof fetch;
}

export interface FetchedArtifact {
  /** Verified manifest digest. */
  manifestDigest: string;
  layer: Descriptor;
  /** The verified layer, `<dir>/layer-<hex16>.<tgz|tar.gz>`; the caller removes it when done. */
  path: string;
  /** `oci://host/name:tag` or `@digest`, for messages. */
  shown: string;
}

/** Layer media types accepted per kind; a single tar layer of another type is accepted for Compose. */
const COMPOSE_LAYERS = new Set([
  COMPOSE_LAYER,
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar',
]);

/** The tag or digest a component's artifact is fetched by. */
export function artifactReference(revision: string, digest?: string): string {
  if (digest !== undefined) {
    if (!isDigest(digest))
      throw new MargoError(
        'AGENT_INVALID_DOCUMENT',
        `x-margo-gitops-extensions.digest ${JSON.stringify(digest)} is not sha256:<64 hex>`,
      );
    return digest;
  }
  if (isDigest(revision)) return revision;
  try {
    return tagForVersion(revision);
  } catch (e) {
    throw new MargoError('AGENT_INVALID_DOCUMENT', (e as Error).message, { cause: e });
  }
}

/** Picks the layer of the artifact the kind needs (pure). Throws AGENT_PACKAGE_INVALID. */
export function pickLayer(layers: readonly Descriptor[], kind: ArtifactKind, shown: string): Descriptor {
  const want =
    kind === 'helm'
      ? layers.filter((l) => l.mediaType === HELM_CHART_LAYER)
      : layers.filter((l) => COMPOSE_LAYERS.has(l.mediaType));
  const layer =
    want.length === 1
      ? want[0]
      : kind === 'compose' && layers.length === 1 && /tar/.test(layers[0]!.mediaType ?? '')
        ? layers[0]
        : undefined;
  if (!layer)
    throw new MargoError(
      'AGENT_PACKAGE_INVALID',
      `${shown} is not a ${kind === 'helm' ? 'Helm chart' : 'Compose package'} artifact: ` +
        `expected one ${kind === 'helm' ? HELM_CHART_LAYER : COMPOSE_LAYER} layer, found ${
          layers.map((l) => l.mediaType).join(', ') || 'none'
        }`,
    );
  return layer;
}

export async function fetchArtifact(r: ArtifactRequest): Promise<FetchedArtifact> {
  let host: string;
  let name: string;
  try {
    ({ host, name } = parseOciRepository(r.repository));
  } catch (e) {
    throw new MargoError('AGENT_INVALID_DOCUMENT', (e as Error).message, { cause: e });
  }
  const reference = artifactReference(r.revision, r.digest);
  const shown = `${r.repository}${isDigest(reference) ? '@' : ':'}${reference}`;
  const access = registryAccess(host, r.settings, r.deploymentCredentials);
  const target: RegistryTarget = {
    host: access.host,
    plainHttp: access.baseUrl.startsWith('http:'),
    timeoutMs: r.timeoutMs,
    ...(access.credentials ? { credentials: access.credentials } : {}),
    ...(r.fetch ? { fetch: r.fetch } : {}),
  };
  try {
    let m = await pullManifest(target, name, reference);
    let parsed = parseManifest(m.bytes, shown);
    if (parsed.manifests) {
      // An index (e.g. re-pushed by a mirror): the artifact is platform-independent, take the first.
      const first = parsed.manifests[0];
      if (!first) throw new MargoError('AGENT_PACKAGE_INVALID', `${shown}: the index lists no manifest`);
      m = await pullManifest(target, name, first.digest);
      parsed = parseManifest(m.bytes, shown);
    }
    const layer = pickLayer(parsed.layers, r.kind, shown);
    const max = r.settings.maxArtifactBytes;
    if (layer.size > max)
      throw new MargoError(
        'AGENT_ARTIFACT_TOO_LARGE',
        `${shown}: the ${r.kind} layer is ${layer.size} bytes, more than the ${max} this agent accepts (maxArtifactBytes); nothing was downloaded`,
      );
    const hex = layer.digest.slice('sha256:'.length, 'sha256:'.length + 16);
    const path = join(r.dir, `layer-${hex}.${r.kind === 'helm' ? 'tgz' : 'tar.gz'}`);
    rmSync(path, { force: true });
    await pullBlob(target, name, layer.digest, { maxBytes: max, toFile: path });
    return { manifestDigest: m.digest, layer, path, shown };
  } catch (e) {
    throw agentError(e, shown, access);
  }
}

/** `fetchArtifact` for a driver's component: its pin, its deployment's credentials, timeout and folder. */
export function fetchComponentArtifact(
  ctx: ComponentContext,
  o: { kind: ArtifactKind; settings: RegistrySettings; repository: string; revision: string },
): Promise<FetchedArtifact> {
  const pin = ctx.component.ociDigest;
  return fetchArtifact({
    ...o,
    ...(pin ? { digest: pin } : {}),
    ...(ctx.registry ? { deploymentCredentials: ctx.registry } : {}),
    timeoutMs: ctx.timeoutSeconds * 1000,
    dir: ctx.workDir,
  });
}

/** Maps the client's OCI_* errors to the agent's codes, naming whose credentials were refused. */
export function agentError(e: unknown, shown: string, access: RegistryAccess): unknown {
  if (!isMargoError(e)) return e;
  const why = e.message;
  switch (e.code) {
    case 'OCI_DIGEST_MISMATCH':
      return new MargoError('AGENT_ARTIFACT_DIGEST_MISMATCH', `${shown}: ${why}; nothing was installed`, {
        cause: e,
      });
    case 'OCI_NOT_FOUND':
      return new MargoError('AGENT_ARTIFACT_NOT_FOUND', why, { cause: e, retry: 'backoff' });
    case 'OCI_AUTH_REFUSED': {
      const whose =
        access.source === 'device-token'
          ? 'the device token (this is the device’s own server)'
          : access.source === 'deployment'
            ? 'the deployment’s MARGO_REGISTRY_* credentials'
            : `no credentials (no MARGO_REGISTRY_* parameters with server ${access.host})`;
      return new MargoError('AGENT_ARTIFACT_AUTH_FAILED', `${why}; sent ${whose}`, { cause: e });
    }
    case 'OCI_LAYER_TOO_LARGE':
      return new MargoError('AGENT_ARTIFACT_TOO_LARGE', `${why}; nothing was installed`, { cause: e });
    case 'OCI_REGISTRY_UNREACHABLE':
    case 'OCI_REGISTRY_ERROR':
      return new MargoError('AGENT_PACKAGE_UNREACHABLE', why, { cause: e, retry: 'backoff' });
    case 'OCI_NAME_INVALID':
    case 'OCI_DIGEST_INVALID':
      return new MargoError('AGENT_INVALID_DOCUMENT', why, { cause: e });
    case 'OCI_LAYOUT_INVALID':
      return new MargoError('AGENT_PACKAGE_INVALID', why, { cause: e });
    default:
      return e;
  }
}
