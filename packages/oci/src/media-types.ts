/**
 * Media types of the OCI artifacts margo-gitops publishes and serves. Compose packages and Helm
 * charts are both OCI artifacts (Margo Workload Management API 1.0.0-rc.2/rc.3: every component
 * is named by `repository: oci://...` + `revision`).
 */
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
/** The empty config of an artifact manifest (`{}`, 2 bytes). */
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const OCI_EMPTY_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';
/** Helm 3 OCI chart (what `helm push` writes and `helm pull` reads). */
export const HELM_CONFIG = 'application/vnd.cncf.helm.config.v1+json';
export const HELM_CHART_LAYER = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';
/** The layer of a Compose package artifact (a Margo Compose Archive): gzip-compressed tar. */
export const COMPOSE_LAYER = 'application/vnd.org.margo.component.compose.tar+gzip';
/** `artifactType` of a Compose package artifact (margo/specification application-registry.md, "Compose Component Registry"). */
export const COMPOSE_ARTIFACT = 'application/vnd.org.margo.component.compose+json';
