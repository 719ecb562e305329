/**
 * Pulls a Compose Archive (Margo rc.3: a Compose package shipped as an OCI artifact at
 * `repository` + `revision`) with the OCI distribution API: manifest, then the archive layer,
 * checked against its digest. Registry auth: anonymous, Basic, or the Bearer token flow
 * (`WWW-Authenticate: Bearer realm=...`), with the deployment's registry credentials.
 */
import { createHash } from 'node:crypto';
import { MargoError } from '@margo-gitops/spec';
import type { RegistryCredentials } from './driver.js';

export interface OciPullOptions {
  timeoutMs: number;
  /** Talk plain http to the registry (loopback/test registries). Default https. */
  plainHttp?: boolean;
  /** Used when the registry asks for them and their `server` names this registry (host[:port]). */
  credentials?: RegistryCredentials;
  /** Largest archive accepted; default 512 MiB. */
  maxBytes?: number;
  fetch?: typeof fetch;
}

export interface OciArchive {
  bytes: Buffer;
  /** `sha256:<hex>` of the archive layer (verified). */
  digest: string;
  mediaType: string;
  /** `sha256:<hex>` of the manifest that was used. */
  manifestDigest: string;
}

const MANIFEST_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
];

interface Descriptor {
  mediaType?: string;
  digest?: string;
  size?: number;
}

/** `oci://host[:port]/name[/more]` -> registry host and repository name. */
export function parseOciRepository(repository: string): { host: string; name: string } {
  const m = /^oci:\/\/([^/]+)\/(.+?)\/?$/.exec(repository);
  if (!m || !/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(m[2]!)) {
    throw new MargoError(
      'AGENT_INVALID_DOCUMENT',
      `repository ${JSON.stringify(repository)} is not an OCI reference (oci://host/name)`,
    );
  }
  return { host: m[1]!, name: m[2]! };
}

/** The tag or digest for `revision`: SemVer build metadata uses `_` in OCI tags (`+` is not allowed). */
export function ociReference(revision: string): string {
  if (/^sha256:[0-9a-f]{64}$/.test(revision)) return revision;
  const tag = revision.replace(/\+/g, '_');
  if (!/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(tag))
    throw new MargoError(
      'AGENT_INVALID_DOCUMENT',
      `revision ${JSON.stringify(revision)} is not a valid OCI tag`,
    );
  return tag;
}

const sameHost = (server: string, host: string) =>
  server.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '') === host;

/** Pulls the archive layer of `repository`:`revision`. */
export async function pullOciArchive(
  repository: string,
  revision: string,
  o: OciPullOptions,
): Promise<OciArchive> {
  const { host, name } = parseOciRepository(repository);
  const ref = ociReference(revision);
  const base = `${o.plainHttp ? 'http' : 'https'}://${host}/v2/${name}`;
  const doFetch = o.fetch ?? fetch;
  const creds = o.credentials && sameHost(o.credentials.server, host) ? o.credentials : undefined;
  const where = `${repository}:${ref}`;
  let authorization: string | undefined;

  const request = async (url: string, accept?: string): Promise<Response> => {
    const go = (auth?: string) =>
      doFetch(url, {
        headers: { ...(accept ? { accept } : {}), ...(auth ? { authorization: auth } : {}) },
        redirect: 'follow',
        signal: AbortSignal.timeout(o.timeoutMs),
      });
    let res: Response;
    try {
      res = await go(authorization);
      if (res.status === 401) {
        authorization = await answerChallenge(
          res.headers.get('www-authenticate') ?? '',
          creds,
          doFetch,
          o.timeoutMs,
        );
        if (authorization) res = await go(authorization);
      }
    } catch (e) {
      if (e instanceof MargoError) throw e;
      throw new MargoError(
        'AGENT_PACKAGE_UNREACHABLE',
        `registry ${host} is unreachable: ${(e as Error).message}`,
        {
          retry: 'backoff',
          cause: e,
        },
      );
    }
    if (res.status === 401 || res.status === 403)
      throw new MargoError(
        'AGENT_REGISTRY_AUTH_FAILED',
        `registry ${host} refused ${creds ? 'the deployment credentials' : 'anonymous access'} for ${name} (${res.status})`,
      );
    if (res.status === 404)
      throw new MargoError('AGENT_PACKAGE_UNREACHABLE', `${where} not found in the registry`, {
        retry: 'backoff',
      });
    if (!res.ok)
      throw new MargoError(
        'AGENT_PACKAGE_UNREACHABLE',
        `registry ${host} answered ${res.status} for ${where}`,
        {
          retry: 'backoff',
        },
      );
    return res;
  };

  // Manifest (an index picks its first manifest: archives are not platform-specific).
  let manifestRes = await request(`${base}/manifests/${ref}`, MANIFEST_TYPES.join(', '));
  let manifestBytes = Buffer.from(await manifestRes.arrayBuffer());
  let manifest = parseJson(manifestBytes, where) as {
    mediaType?: string;
    manifests?: Descriptor[];
    layers?: Descriptor[];
  };
  if (Array.isArray(manifest.manifests)) {
    const first = manifest.manifests[0]?.digest;
    if (!first) throw invalid(`${where}: the index lists no manifest`);
    manifestRes = await request(`${base}/manifests/${first}`, MANIFEST_TYPES.join(', '));
    manifestBytes = Buffer.from(await manifestRes.arrayBuffer());
    manifest = parseJson(manifestBytes, where) as typeof manifest;
  }
  const manifestDigest = `sha256:${createHash('sha256').update(manifestBytes).digest('hex')}`;
  if (ref.startsWith('sha256:') && !manifest.manifests && manifestDigest !== ref)
    throw new MargoError(
      'AGENT_CHECKSUM_MISMATCH',
      `${where}: the registry served a manifest with digest ${manifestDigest}`,
    );

  const layers = Array.isArray(manifest.layers) ? manifest.layers : [];
  const layer = layers.length === 1 ? layers[0] : layers.find((l) => /tar/.test(l.mediaType ?? ''));
  if (!layer?.digest || !/^sha256:[0-9a-f]{64}$/.test(layer.digest))
    throw invalid(`${where}: no Compose archive layer (a tar or tar+gzip layer) in the manifest`);
  const max = o.maxBytes ?? 512 * 1024 * 1024;
  if ((layer.size ?? 0) > max)
    throw invalid(`${where}: the archive is ${layer.size} bytes, more than ${max}`);

  const blob = await request(`${base}/blobs/${layer.digest}`);
  const bytes = Buffer.from(await blob.arrayBuffer());
  if (bytes.length > max) throw invalid(`${where}: the archive is larger than ${max} bytes`);
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  if (digest !== layer.digest)
    throw new MargoError(
      'AGENT_CHECKSUM_MISMATCH',
      `${where}: the archive has digest ${digest}, the manifest says ${layer.digest}`,
    );
  return { bytes, digest, mediaType: layer.mediaType ?? '', manifestDigest };
}

/** Answers a 401 challenge: Basic with the credentials, or a Bearer token from the realm. */
async function answerChallenge(
  header: string,
  creds: RegistryCredentials | undefined,
  doFetch: typeof fetch,
  timeoutMs: number,
): Promise<string | undefined> {
  const basic = creds
    ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`
    : undefined;
  if (/^basic/i.test(header)) return basic;
  if (!/^bearer/i.test(header)) return undefined;
  const params = Object.fromEntries(
    [...header.slice(6).matchAll(/([a-z]+)="([^"]*)"/gi)].map((m) => [m[1]!.toLowerCase(), m[2]!]),
  );
  if (!params.realm) return undefined;
  const url = new URL(params.realm);
  if (params.service) url.searchParams.set('service', params.service);
  if (params.scope) url.searchParams.set('scope', params.scope);
  const res = await doFetch(url, {
    headers: basic ? { authorization: basic } : {},
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) return undefined;
  const body = (await res.json().catch(() => ({}))) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  return token ? `Bearer ${token}` : undefined;
}

function parseJson(bytes: Buffer, where: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid(`${where}: the manifest is not JSON`);
  }
}

const invalid = (message: string) => new MargoError('AGENT_PACKAGE_INVALID', message);
