/**
 * Translates a catalog profile into what current Margo devices consume: every component, Helm or
 * Compose, named by `repository: oci://...` + `revision`, pinned to a manifest digest when the
 * catalog knows it. Older package shapes are translated here, at render time; what cannot be
 * translated is refused with ORCH_COMPONENT_NOT_OCI naming the field. Pure.
 */
import type { Component, DeploymentProfile } from '@margo-gitops/spec';
import { packageRelativePath } from './render-deployment.js';

/** An artifact of a catalog package, from its `oci/` layout or synthesised for a legacy Compose tarball. */
export interface ArtifactRef {
  /** Repository below the registry root, e.g. `hello-world/hello`. */
  repository: string;
  /** External registry `host[:port][/namespace]`; undefined = the server's embedded registry. */
  registry?: string;
  tag: string;
  /** `sha256:<hex>` of the manifest. */
  digest: string;
}

export interface OciProfileInput {
  profile: DeploymentProfile;
  /** Artifacts of the package by component name. */
  artifacts?: ReadonlyMap<string, ArtifactRef>;
  /** host[:port] of the embedded registry as devices reach it (the server's public URL). */
  registryHost?: string;
}

export type OciProfileResult =
  | { ok: true; profile: DeploymentProfile }
  | { ok: false; code: 'ORCH_COMPONENT_NOT_OCI' | 'ORCH_REGISTRY_UNSET'; reason: string };

/** The OCI form of every component of `profile` (see the module comment). */
export function ociProfile(input: OciProfileInput): OciProfileResult {
  const { profile } = input;
  const components: Component[] = [];
  for (const [i, c] of profile.components.entries()) {
    const field = `deploymentProfiles[${profile.id}].components[${i}] (${c.name}).properties`;
    const props = c.helm ?? c.compose;
    const common = {
      wait: props?.wait ?? true,
      ...(props?.timeoutSeconds !== undefined ? { timeoutSeconds: props.timeoutSeconds } : {}),
    };
    const art = input.artifacts?.get(c.name);
    let oci: { repository: string; revision: string; digest?: string };
    if (art) {
      const host = art.registry ?? input.registryHost;
      if (!host)
        return {
          ok: false,
          code: 'ORCH_REGISTRY_UNSET',
          reason: `component ${c.name}: the server's registry address is not configured`,
        };
      oci = { repository: `oci://${host}/${art.repository}`, revision: art.tag, digest: art.digest };
    } else {
      const repository = c.helm?.repository ?? c.compose?.repository;
      const revision = c.helm?.revision ?? c.compose?.revision;
      if (repository && /^oci:\/\//.test(repository) && revision) {
        oci = { repository, revision: revision.replace(/\+/g, '_') };
      } else {
        const loc = c.compose?.packageLocation;
        const what = c.helm
          ? /^[a-z][a-z0-9+.-]*:/i.test(c.helm.repository)
            ? `repository ${JSON.stringify(c.helm.repository)} is not an OCI repository (oci://host/name)`
            : `chart folder ${JSON.stringify(c.helm.repository)} has no OCI artifact in the catalog (publish the package with margo app publish)`
          : loc !== undefined && packageRelativePath(loc) !== undefined
            ? `packageLocation ${JSON.stringify(loc)} has no OCI artifact in the catalog`
            : loc !== undefined
              ? `packageLocation ${JSON.stringify(loc)} is a download URL, not an OCI artifact`
              : 'it names no OCI repository and revision';
        return {
          ok: false,
          code: 'ORCH_COMPONENT_NOT_OCI',
          reason: `${field}.${c.helm ? 'repository' : loc !== undefined ? 'packageLocation' : 'repository'}: ${what}`,
        };
      }
    }
    // Vendor extensions travel at component level in the current shape; property-level extras do not.
    const next: Component = { name: c.name, raw: {}, ...(c.extensions ? { extensions: c.extensions } : {}) };
    if (profile.type === 'helm.v3')
      next.helm = { repository: oci.repository, revision: oci.revision, ...common };
    else next.compose = { repository: oci.repository, revision: oci.revision, ...common };
    if (oci.digest) next.ociDigest = oci.digest;
    components.push(next);
  }
  return { ok: true, profile: { ...profile, components } };
}
