import type { CodeTable } from './types.js';

/**
 * Stable error codes of OCI artifacts: packing, catalog layouts, the embedded registry and the
 * Distribution client. Add entries; never rename or remove one.
 */
export const ociCodes = {
  OCI_NAME_INVALID: {
    summary: 'A name or version cannot be used as an OCI repository name or tag.',
    hint: 'Repository names are lower-case letters, digits and separators (. _ -); tags are at most 128 characters of letters, digits, . _ -.',
  },
  OCI_DIGEST_INVALID: { summary: 'A digest is not of the form sha256:<64 lower-case hex digits>.' },
  OCI_LAYOUT_INVALID: {
    summary: "A package's OCI image layout (oci/) is malformed.",
    hint: 'Let `margo app publish` write the oci/ folder; do not edit it by hand.',
  },
  OCI_DIGEST_MISMATCH: {
    summary: 'The bytes of an OCI blob or manifest do not have the digest that names them.',
    hint: 'The artifact was changed after it was packed, or damaged on the way; publish it again.',
  },
  OCI_BLOB_MISSING: {
    summary: 'A manifest or index names a blob that is not there.',
    hint: 'Publish the package again with `margo app publish` so every blob is included.',
  },
  OCI_LAYER_TOO_LARGE: {
    summary: 'An artifact layer is larger than the server accepts.',
    hint: 'Make the package smaller (container images belong in an image registry), or raise the limit on the server.',
  },
  OCI_REGISTRY_UNREACHABLE: {
    summary: 'An OCI registry could not be reached or answered with a server error.',
    hint: 'Check the registry address (host[:port]), that it is running, and whether it speaks https or plain http.',
    retry: 'backoff',
  },
  OCI_AUTH_REFUSED: {
    summary: 'An OCI registry refused the credentials (or anonymous access) for a repository.',
    hint: 'Check the registry user name and password, and that the user may pull (or push) that repository.',
  },
  OCI_NOT_FOUND: {
    summary: 'An OCI registry has no such repository, tag, manifest or blob.',
    hint: 'Check the repository name and the tag or digest; publish the artifact first.',
  },
  OCI_REGISTRY_ERROR: {
    summary: 'An OCI registry rejected a request (an unexpected answer of the Distribution API).',
    hint: "The message carries the registry's own error code; check that the registry accepts OCI artifacts.",
  },
  OCI_PACK_INVALID: {
    summary:
      'A folder cannot be packed as an OCI artifact (no compose file or Chart.yaml, unreadable file, odd file type).',
    hint: 'A Compose folder holds compose.yaml at its top; a Helm chart folder holds a valid Chart.yaml (name, SemVer version, apiVersion v2).',
  },
  OCI_PACK_PATH_OUTSIDE: {
    summary: 'A packed folder names or links to a path outside itself.',
    hint: 'Only the folder is packed: move the file into it and use a relative path that stays inside (no ../, no absolute link).',
  },
} as const satisfies CodeTable;
