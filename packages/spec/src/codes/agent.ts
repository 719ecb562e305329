import type { CodeTable } from './types.js';

/** Stable error codes owned by the agent area. Add entries; never rename or remove one. */
export const agentCodes = {
  AGENT_CONFIG_INVALID: {
    summary: 'The agent configuration is incomplete or invalid.',
    hint: 'Fix every listed problem (file, MARGO_AGENT_* environment variables or flags) and start the agent again.',
  },
  AGENT_REPO_UNREACHABLE: {
    summary: 'The device repository could not be fetched (network error or server down).',
    hint: 'Workloads keep running; the agent retries with backoff. Check the repository URL and the network.',
    retry: 'backoff',
  },
  AGENT_REPO_AUTH_FAILED: {
    summary: 'The git server refused the device token.',
    hint: 'Renew the device token (re-enrol the device) or check the token file.',
    retry: 'later',
  },
  AGENT_STATUS_PUSH_FAILED: {
    summary: 'Status could not be pushed to the status branch; it stays queued on disk.',
    hint: 'Nothing is lost: the queued status is pushed after the server is reachable again.',
    retry: 'backoff',
  },
  AGENT_VERIFICATION_FAILED: {
    summary: 'The desired state failed verification (signed manifest); nothing of that commit was applied.',
    hint: 'Check the orchestrator signing key and the margo-manifest.json of the device repository.',
  },
  AGENT_INVALID_DOCUMENT: {
    summary: 'A deployment document in the device repository is not a valid ApplicationDeployment.',
    hint: 'Fix the deployment in the fleet repository; the last good state keeps running.',
  },
  AGENT_PROFILE_UNSUPPORTED: {
    summary: 'The deployment profile type is not supported by this device (no driver for it).',
    hint: 'Deploy the Helm profile to Kubernetes devices and the Compose profile to Docker devices.',
  },
  AGENT_DEPENDENCY_CYCLE: {
    summary: 'The depends-on annotations of the deployments form a cycle.',
    hint: 'Remove one of the margo-gitops.io/depends-on entries in the cycle.',
  },
  AGENT_DEPENDENCY_NOT_READY: {
    summary: 'The deployment waits for a deployment it depends on that is missing or not installed.',
    hint: 'Fix the deployment named in the message; this one is applied once it is installed.',
    retry: 'later',
  },
  AGENT_ON_SITE_HOLD: {
    summary: 'The device is on hold on site (`margo-agent hold`): the change waits; what runs keeps running.',
    hint: 'Someone at the device holds it (the reason says why). It applies the change as soon as they run `margo-agent release` on the device.',
    retry: 'later',
  },
  AGENT_PACKAGE_UNREACHABLE: {
    summary: 'The application package or chart could not be downloaded.',
    hint: 'Check packageLocation / repository and revision, and that the device can reach it.',
    retry: 'backoff',
  },
  AGENT_PACKAGE_INVALID: {
    summary:
      'The downloaded package is not a usable Compose package (not a tar archive, or no compose file).',
    hint: 'A Compose package is a tar(.gz) with docker-compose.yml or compose.yaml at its root.',
  },
  AGENT_SIGNATURE_INVALID: {
    summary: 'The package signature is missing or does not verify against the key at keyLocation.',
    hint: 'Publish <packageLocation>.sig or .asc made with the key at keyLocation.',
  },
  AGENT_CHECKSUM_MISMATCH: {
    summary: 'The downloaded package does not have the expected sha256 digest.',
    hint: 'Re-publish the package or fix the digest in the deployment.',
  },
  AGENT_REGISTRY_AUTH_FAILED: {
    summary: 'The container or chart registry refused the credentials (or credentials were missing).',
    hint: 'Give the deployment registry credentials (MARGO_REGISTRY_* parameters) that the registry accepts.',
  },
  AGENT_COMPOSE_FAILED: {
    summary: 'docker compose failed to apply the application.',
    hint: 'See the message (compose output) and the agent log.',
    retry: 'backoff',
  },
  AGENT_COMPOSE_UNAVAILABLE: {
    summary: 'Neither `docker compose` nor `docker-compose` works on this device.',
    hint: 'Install Docker Compose or set composeCommand in the agent configuration.',
  },
  AGENT_HELM_FAILED: {
    summary: 'helm failed to apply the chart.',
    hint: 'See the message (helm output) and the agent log.',
    retry: 'backoff',
  },
  AGENT_KUBERNETES_FAILED: {
    summary: 'The Kubernetes API server refused or failed a request (namespace, readiness, capacity).',
    hint: 'Check the kubeconfig given to the agent and the API server.',
    retry: 'backoff',
  },
  AGENT_TIMEOUT: {
    summary: 'The component did not become ready within its timeout.',
    hint: 'Raise the component timeout or check why the workload does not start.',
    retry: 'backoff',
  },
  AGENT_UNSEAL_FAILED: {
    summary: 'A sealed parameter value could not be unsealed on this device.',
    hint: 'The value was sealed for another device certificate; re-seal it for this device.',
  },
  AGENT_ARTIFACT_DIGEST_MISMATCH: {
    summary:
      'An OCI artifact from the registry does not match its digest (the manifest pinned in the desired state, or a blob the manifest names); nothing of it was used.',
    hint: 'The registry serves other bytes than were published (tampering or corruption): check the registry, or re-publish and re-deploy. The last good state keeps running.',
  },
  AGENT_ARTIFACT_NOT_FOUND: {
    summary: 'The OCI repository, tag or digest a component names does not exist in the registry.',
    hint: 'Check `repository` and `revision` (SemVer build metadata is written with `_` in the tag) and that the artifact was published there.',
    retry: 'backoff',
  },
  AGENT_ARTIFACT_AUTH_FAILED: {
    summary:
      'The registry refused the credentials for an OCI artifact (or asked for credentials and none apply to that host).',
    hint: 'The device token is sent only to its own server; other registries get the MARGO_REGISTRY_* parameters whose server equals their host[:port].',
  },
  AGENT_ARTIFACT_TOO_LARGE: {
    summary:
      'An OCI artifact layer is larger than the agent accepts (maxArtifactBytes); it was not downloaded.',
    hint: 'Make the package smaller, or raise maxArtifactBytes in the agent configuration.',
  },
  AGENT_ARTIFACT_PATH_OUTSIDE: {
    summary:
      'A Compose artifact holds an entry outside its folder (absolute path, `..`, a link pointing out, or a device file); nothing of it was extracted.',
    hint: 'Re-pack the Compose folder with relative paths only and no links leaving it (`margo app publish` does).',
  },
  AGENT_API_UNREACHABLE: {
    summary:
      'The Workload Management API could not be reached or answered with a server error (network, TLS, 5xx, 429).',
    hint: 'Workloads keep running; the agent retries with backoff. Check --api-url and that `margo serve` runs the API.',
    retry: 'backoff',
  },
  AGENT_API_THROTTLED: {
    summary:
      'The Workload Management API asked the agent to slow down (429 with Retry-After); requests wait until then without being sent.',
    hint: 'Workloads keep running and status stays queued on disk. A fleet polling too often for the server shows this: raise pollIntervalSeconds.',
    retry: 'backoff',
  },
  AGENT_API_REFUSED: {
    summary:
      'The Workload Management API refused a request of the agent (4xx other than 408/429): its problem code is logged.',
    hint: 'Check the device identity (revoked, another fleet manager) and the server logs; a refused status change is dropped, not retried.',
  },
  AGENT_API_ANSWER_INVALID: {
    summary:
      'The Workload Management API answered something that is not a valid state manifest (malformed JSON, missing members, inconsistent signed manifest).',
    hint: 'The last good state keeps running. Check that the server is a margo-gitops fleet manager of this device.',
  },
  AGENT_SERVER_IDENTITY_MISMATCH: {
    summary:
      "The API server's certificate does not carry the SPIFFE ID of this device's fleet manager (spiffe://<trust domain>/margo/wfm/<wfm id>); nothing was sent or read.",
    hint: 'The API URL leads to another server, or the server SVID was not issued by this fleet manager. Check --api-url.',
  },
  AGENT_MANIFEST_VERSION_REPLAYED: {
    summary:
      'The state manifest over the API has a manifestVersion that is not strictly greater than the last one the device applied (replay or rollback); nothing of it was applied.',
    hint: 'The last good state keeps running. A server restored from an old backup, or somebody replaying answers: check the server.',
  },
  AGENT_DIGEST_MISMATCH: {
    summary:
      "A deployment document or bundle fetched over the API does not match the manifest's sha256 digest; nothing of that state was applied.",
    hint: 'The last good state keeps running and the state is not retried until a new one arrives. Something altered the bytes on the way: check proxies.',
  },
  AGENT_INTERRUPTED: {
    summary: 'The agent was stopped in the middle of an action; the action is resumed at the next start.',
    retry: 'backoff',
  },
} as const satisfies CodeTable;
