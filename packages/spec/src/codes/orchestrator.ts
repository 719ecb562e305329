import type { CodeTable } from './types.js';

/** Stable error codes owned by the orchestrator area. Add entries; never rename or remove one. */
export const orchestratorCodes = {
  ORCH_FLEET_YAML_INVALID: {
    summary: 'A fleet document is not valid YAML.',
    hint: 'Fix the YAML syntax at the reported line and push the fleet repository again.',
  },
  ORCH_FLEET_SCHEMA: {
    summary: 'A fleet document does not match its schema.',
    hint: 'See the field named in the message; repos-template/fleet/README.md documents the layout.',
  },
  ORCH_FLEET_KIND: {
    summary: 'A fleet document has the wrong kind for its folder.',
    hint: 'devices/*.yaml must be `kind: Device`, deployments/*.yaml must be `kind: Deployment`.',
  },
  ORCH_FLEET_NAME_MISMATCH: {
    summary: 'A fleet document is named differently from its file.',
    hint: 'Rename the file or change `id`/`name` so that `devices/<id>.yaml` and `deployments/<name>.yaml` agree.',
  },
  ORCH_FLEET_DUPLICATE: {
    summary: 'Two fleet documents declare the same device id or deployment name.',
  },
  ORCH_FLEET_UNKNOWN_DEPENDENCY: {
    summary: 'A deployment depends on a deployment that does not exist.',
    hint: 'Check the names in `dependsOn`.',
  },
  ORCH_FLEET_SECRET_PLAINTEXT: {
    summary: 'A secret value in the fleet repository is not sealed.',
    hint: 'Seal secrets per device with `margo secret seal` (values must start with `sealed:v1:`); never commit plaintext.',
  },
  ORCH_APP_NOT_FOUND: {
    summary: 'The application named by a deployment is not in the catalog.',
    hint: 'Push the application package to the catalog as `<appId>/<version>/margo.yaml`.',
    retry: 'later',
  },
  ORCH_VERSION_NOT_FOUND: {
    summary: 'No catalog version of the application satisfies the deployment version.',
    hint: 'Publish a matching version or change `application.version` (an exact version or a semver range).',
    retry: 'later',
  },
  ORCH_CATALOG_INVALID: {
    summary: 'An application description in the catalog could not be parsed.',
    hint: 'Run `margo validate` on the package and push a fixed version.',
  },
  ORCH_PARAMETER_INVALID: {
    summary: 'A deployment parameter value is not accepted by the application configuration.',
    hint: 'Fix the value in the deployment intent; the message names the rule it breaks.',
  },
  ORCH_PARAMETER_UNKNOWN: {
    summary: 'A deployment sets a parameter that the application does not declare.',
  },
  ORCH_PARAMETER_IMMUTABLE: {
    summary: 'A deployment changes a setting that is immutable after the first installation.',
    hint: 'Restore the previous value, or remove and re-create the deployment to change it.',
  },
  ORCH_SECRET_NOT_SEALED: {
    summary: 'A secret parameter has no sealed value for a target device.',
    hint: 'Seal the secret for this device (`margo secret seal`) and push the fleet repository.',
  },
  ORCH_STATUS_INVALID: {
    summary:
      "A file on a device's status branch is not a valid DeviceCapabilities or DeploymentStatus; it is ignored.",
    hint: "Check the agent's version and logs on that device; `margo device show ID` lists the file.",
  },
  ORCH_NO_CAPABILITIES: {
    summary: 'The device has not reported its capabilities yet, so nothing is sent to it.',
    hint: 'Start the agent on the device; it reports capabilities on its first run.',
    retry: 'later',
  },
  ORCH_DEVICE_NOT_REGISTERED: {
    summary: 'A deployment targets a device id that has no devices/<id>.yaml in the fleet repository.',
    hint: 'Add the device to the fleet (`margo device add`) or fix the id.',
  },
  ORCH_DEVICE_REPO_FAILED: {
    summary: 'Writing the desired state of one device repository failed; the next pass retries it.',
    retry: 'backoff',
  },
  ORCH_REF_CONFLICT: {
    summary: 'A device branch moved while the orchestrator was writing it (compare-and-swap failed).',
    retry: 'backoff',
  },
  ORCH_GIT_FAILED: {
    summary: 'A git command run by the orchestrator failed.',
    retry: 'backoff',
  },
  ORCH_SIGNER_FAILED: {
    summary: 'Signing the desired-state manifest of a device failed.',
    hint: 'Check the signing key under pki/.',
    retry: 'backoff',
  },
  ORCH_COMPONENT_NOT_OCI: {
    summary:
      'A component cannot be rendered as an OCI artifact (repository oci://... + revision), which current Margo devices require.',
    hint: 'Publish the package with `margo app publish` (Compose folders and charts inside the package become OCI artifacts), or name an OCI repository (oci://host/name) and a SemVer revision.',
  },
  ORCH_REGISTRY_UNSET: {
    summary: "The server's registry address is unknown, so package artifacts cannot be named.",
    hint: 'Start `margo serve` with --url set to the address devices use to reach it.',
  },
  ORCH_VERSION_YANKED: {
    summary: 'The deployment names a catalog version that was yanked.',
    hint: 'Devices keep what they run; deploy a published version or a range instead (`margo deploy APP@VERSION --name NAME ...` or `application.version` in the fleet).',
  },
  ORCH_DEVICE_REPO_TAMPERED: {
    summary:
      "A device repository's `main` held a commit the orchestrator did not sign (edited, replaced, rolled back or deleted on the Git host).",
    hint: 'The device refuses it and the orchestrator restores its own signed state; check the Git host access logs and rotate the credentials that can write there.',
  },
  ORCH_NOT_MATCHED: {
    summary:
      'A targeted device does not fit the application (role, profile or reported capabilities), so it gets nothing.',
    hint: 'The reason names what is missing, e.g. "needs 4Gi memory, device reports 2Gi".',
  },
  ORCH_UNAUTHORIZED: {
    summary: 'The status API was called without a token allowed to read fleet status.',
    hint: 'Send `Authorization: Bearer <token>` with an admin or operator token.',
  },
  ORCH_DEPLOYMENT_NOT_FOUND: {
    summary: 'No deployment of that name exists in the fleet repository.',
    hint: 'List deployments with `margo status`.',
  },
  ORCH_ROLLOUT_NOT_FOUND: {
    summary:
      'The status API knows no rollout of that name (no `rollouts/<name>.json` the orchestrator has read).',
    hint: 'List rollouts with `margo rollout status`; a rollout starts when a deployment with `rollout:` changes.',
  },
  ORCH_STOPPED: {
    summary: 'The orchestrator was stopped.',
  },
} as const satisfies CodeTable;
