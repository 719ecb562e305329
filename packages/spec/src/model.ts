/**
 * The internal, normalised Margo data model. Every era's spelling (2024 Git-era, DM-A..E, 1.0,
 * rc drafts) is parsed into these shapes; `original` keeps the document as written so it can be
 * round-tripped unchanged. Owned by packages/spec; other packages consume, never construct by hand
 * except in tests.
 */

/** The normalised profile type. Parsed from `helm.v3`/`helm` and `docker-compose`/`compose`. */
export type ProfileType = 'helm.v3' | 'compose';

/** A parameter value as Margo allows it: scalar or array of scalars. */
export type ParamValue = string | number | boolean | string[] | number[] | boolean[];

export interface ParameterTarget {
  /** Helm: dotted values path (`image.tag`, `env[0].name`). Compose: variable name with the optional `ENV.` prefix removed. */
  pointer: string;
  /** The pointer as written in the document (e.g. `ENV.GREETING`). */
  rawPointer: string;
  components: string[];
}

export interface Parameter {
  name: string;
  /** Package default (undefined when none). */
  value?: ParamValue;
  targets: ParameterTarget[];
}

export interface HelmComponentProps {
  repository: string;
  revision: string;
  wait: boolean;
  /** Seconds, parsed from `##m##s`; undefined when not given. */
  timeoutSeconds?: number;
}

export interface ComposeComponentProps {
  /** 2024 / 1.0: URL of the package tarball. */
  packageLocation?: string;
  /** URL of the PGP public key used to verify the package's detached signature. */
  keyLocation?: string;
  /** rc.3: OCI repository (`oci://...`) and revision of a Compose archive. */
  repository?: string;
  revision?: string;
  wait: boolean;
  timeoutSeconds?: number;
}

export interface Component {
  name: string;
  /**
   * Normalised properties; `raw` keeps unknown/vendor keys as written. The OCI coordinates are
   * `helm.repository`/`helm.revision` or `compose.repository`/`compose.revision` (read both through
   * `componentOciRef()`).
   */
  helm?: HelmComponentProps;
  compose?: ComposeComponentProps;
  /**
   * The pinned artifact (OCI manifest) digest `sha256:<hex>`, from the component's
   * `x-margo-gitops-extensions: {digest}` (beside `name`/`properties`); absent when not pinned.
   */
  ociDigest?: string;
  /**
   * Component-level vendor keys (`x-<name>-extensions`) as written. The emitter writes `ociDigest`
   * over `x-margo-gitops-extensions.digest`, so change the digest through `ociDigest`.
   */
  extensions?: Record<string, unknown>;
  raw: Record<string, unknown>;
}

export type CpuArchitecture = 'amd64' | 'arm64' | 'arm' | 'riscv64' | 'other';

/** Resource requirements of a profile (`requiredResources` or rc.3 `deviceConstraints.capacityRequirements`). */
export interface ResourceRequirements {
  cpuCores?: number;
  /** Normalised: `x86_64` -> `amd64`. */
  architectures?: CpuArchitecture[];
  memoryBytes?: number;
  storageBytes?: number;
  peripherals?: { type: string; manufacturer?: string; model?: string }[];
  interfaces?: { type: string }[];
}

export interface LabelMatchExpression {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt' | 'ContainsAll' | 'ContainsAny';
  values?: string[];
  /**
   * rc.3, for ContainsAll/ContainsAny over a list of objects: expressions (JSON Pointers into one
   * item) that items must match.
   */
  itemSelector?: LabelMatchExpression[];
}

export interface DeploymentProfile {
  /** Profile id (DM/E25); synthesised as `<type>-<index>` when the document has none. */
  id: string;
  type: ProfileType;
  /** The type as written (`helm`, `helm.v3`, `docker-compose`, `compose`). */
  rawType: string;
  description?: string;
  components: Component[];
  requirements?: ResourceRequirements;
  eligibility?: { propertySelector?: LabelMatchExpression[]; labelSelector?: LabelMatchExpression[] }[];
}

export type SchemaDataType =
  | 'string'
  | 'integer'
  | 'double'
  | 'boolean'
  | 'array[string]'
  | 'array[integer]'
  | 'array[double]'
  | 'array[boolean]';

export interface SchemaRule {
  name: string;
  dataType: SchemaDataType;
  /** Normalised polarity: true means an empty value is accepted. */
  allowEmpty?: boolean;
  minLength?: number;
  maxLength?: number;
  regexMatch?: string;
  minValue?: number;
  maxValue?: number;
  minPrecision?: number;
  maxPrecision?: number;
  /** Present for select schemas. */
  options?: (string | number | boolean)[];
  multiselect?: boolean;
}

export interface Setting {
  parameter: string;
  name: string;
  description?: string;
  immutable: boolean;
  schema: string;
}

export interface ConfigurationSection {
  name: string;
  settings: Setting[];
}

export interface Configuration {
  sections: ConfigurationSection[];
  schema: SchemaRule[];
}

/** A normalised application description (`margo.yaml`). */
export interface ApplicationDescription {
  kind: 'ApplicationDescription';
  /** Where the id was found: `metadata.id` (2024, DM-A) or top-level `id` (DM-B+). */
  idPlacement: 'metadata' | 'top-level';
  id: string;
  name: string;
  description?: string;
  /** Always a string (YAML `1.0` is coerced to "1.0"). */
  version: string;
  catalog: Record<string, unknown>;
  profiles: DeploymentProfile[];
  parameters: Record<string, Parameter>;
  configuration?: Configuration;
  apiVersion: string;
  /** The parsed document as written. */
  original: unknown;
}

/** A normalised ApplicationDeployment: the desired state of one application on one device. */
export interface ApplicationDeployment {
  kind: 'ApplicationDeployment';
  apiVersion: string;
  /** Deployment id (UUID). From `metadata.annotations.id` (2024/DM-A) or top-level `id`. */
  id: string;
  idPlacement: 'annotations' | 'top-level';
  name: string;
  namespace: string;
  applicationId: string;
  deviceId?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  profile: DeploymentProfile;
  /** Parameter name -> concrete value and its targets. */
  parameters: Record<string, Parameter & { value: ParamValue }>;
  original: unknown;
}

/** The six Margo deployment states, lower-case as emitted. */
export type DeploymentState = 'pending' | 'installing' | 'installed' | 'failed' | 'removing' | 'removed';

export interface StatusError {
  code: string;
  message: string;
  source?: string;
}

export interface ComponentStatus {
  name: string;
  state: DeploymentState;
  error?: StatusError;
  /** margo-gitops extension: finer install progress (prepared, downloading, configuring, deployed). */
  progress?: string;
}

export interface DeploymentStatus {
  kind: 'DeploymentStatus';
  apiVersion: string;
  deploymentId: string;
  deviceId?: string;
  /**
   * N (rc.3): the version of the state manifest the device applied, as an exact decimal string
   * (the spec allows up to 2^64-1, beyond JavaScript's safe integers). Absent in older eras.
   */
  adoptedManifestVersion?: string;
  state: DeploymentState;
  error?: StatusError;
  components: ComponentStatus[];
  original: unknown;
}

export type DeviceRole =
  | 'standalone-cluster'
  | 'cluster-leader'
  | 'standalone-device'
  | 'cluster-worker'
  | 'gateway'
  | 'other';

export interface DeviceCapabilities {
  kind: 'DeviceCapabilities';
  apiVersion: string;
  id: string;
  vendor?: string;
  modelNumber?: string;
  serialNumber?: string;
  roles: DeviceRole[];
  cpu?: { cores: number; architecture?: CpuArchitecture; frequencyGHz?: number };
  memoryBytes?: number;
  storageBytes?: number;
  peripherals: { type: string; name?: string; manufacturer?: string; model?: string }[];
  interfaces: { type: string; name?: string }[];
  labels?: Record<string, unknown>;
  /** N: whether the device runs an OpenTelemetry collector (absent when not reported). */
  otelCollector?: boolean;
  /** N: `oci`, `custom` (as written; absent when not reported). */
  supportedRuntimes?: string[];
  /**
   * N: `helm`, `compose`, `custom` (as written; `helm.v3`/`docker-compose` normalised to
   * `helm`/`compose`). When the document reports no roles, `roles` is derived from these.
   */
  supportedDeploymentTypes?: string[];
  original: unknown;
}

export type DocumentKind =
  | 'ApplicationDescription'
  | 'ApplicationDeployment'
  | 'DeploymentStatus'
  | 'DeviceCapabilities'
  | 'DesiredStateManifest'
  | 'ProblemDetail';

export type MargoDocument =
  | ApplicationDescription
  | ApplicationDeployment
  | DeploymentStatus
  | DeviceCapabilities;

export type Severity = 'error' | 'warning' | 'info';

/** One problem found in a document. */
export interface Finding {
  code: string;
  severity: Severity;
  message: string;
  /** JSON path into the document, e.g. `/deploymentProfiles/0/components/1/name` (RFC 6901). */
  path: string;
  file?: string;
  /** 1-based; undefined when the position is unknown. */
  line?: number;
  column?: number;
}

/** One entry of a state manifest (R1 REST pull; also what margo-gitops signs per device). */
export interface ManifestDeploymentRef {
  deploymentId: string;
  digest: string;
  sizeBytes?: number;
  url: string;
}

/**
 * The R1 state manifest (`application/vnd.margo.manifest.v1+json`, DM `DesiredStateManifest`,
 * rc.2 OpenAPI `UnsignedAppStateManifest`).
 */
export interface DesiredStateManifest {
  kind: 'DesiredStateManifest';
  /** Decimal string: the spec allows values up to 2^64-1, beyond JavaScript's safe integers. */
  manifestVersion: string;
  bundle: { mediaType: string; digest: string; sizeBytes?: number; url: string } | null;
  deployments: ManifestDeploymentRef[];
  original: unknown;
}

/** An RFC 9457 problem (`application/problem+json`), as the Margo API returns errors. */
export interface ProblemDetail {
  kind: 'ProblemDetail';
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  /** Margo extension: field-level validation errors. */
  errors?: { field?: string; message?: string }[];
  original: unknown;
}

/** Every document kind `parseDocument` can return. */
export type AnyMargoDocument = MargoDocument | DesiredStateManifest | ProblemDetail;
