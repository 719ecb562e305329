import type { CodeTable } from './types.js';

/**
 * Stable error codes of the Margo Workload Management API on `margo serve` (mutual TLS, SPIFFE
 * X.509-SVIDs). Each travels as the `code` extension member of an RFC 9457 problem body. Add
 * entries; never rename or remove one.
 */
export const apiCodes = {
  API_CLIENT_CERT_REQUIRED: {
    summary: 'The request came without a client certificate (an X.509-SVID).',
    hint: 'Connect with the device SVID: `margo device add ID --svid-out DIR` writes one, our agent gets one at enrolment.',
  },
  API_CLIENT_CERT_UNTRUSTED: {
    summary: "The client certificate was not issued by this server's root CA for a client.",
    hint: 'Use the SVID this server issued (bundle.pem is the trust bundle it must chain to).',
  },
  API_CLIENT_CERT_EXPIRED: {
    summary: 'The client certificate (SVID) is expired or not yet valid.',
    hint: 'Issue a new SVID for the device, or check the device clock.',
  },
  API_CLIENT_CERT_REVOKED: {
    summary: "The device's certificate was revoked (`margo device revoke`).",
    hint: 'Add the device again under a new id if it should come back.',
  },
  API_SPIFFE_ID_INVALID: {
    summary:
      'The client certificate does not carry exactly one SPIFFE ID of the form spiffe://<trust domain>/margo/wfm/<wfm id>/client/<device id> for this server.',
    hint: 'Check the trust domain and WFM id in /.well-known/margo; issue the SVID from this server.',
  },
  API_NOT_FOUND: {
    summary: 'The API has no such resource for this device (a digest that is unknown or no longer held).',
    hint: 'Poll GET /api/v1/deployments for the current digests. A 404 never means the deployment was removed.',
  },
  API_METHOD_NOT_ALLOWED: { summary: 'The API does not support that method on this path.' },
  API_NOT_IMPLEMENTED: {
    summary: 'This server does not take that write over the API yet.',
    hint: 'Our agent reports status and capabilities over Git meanwhile.',
  },
  API_NOT_ACCEPTABLE: {
    summary: 'The Accept header names no format the API can produce.',
    hint: 'Accept application/vnd.margo.manifest.v1+json (or */*).',
  },
  API_UNAVAILABLE: {
    summary: "The API could not read the device's desired state just now.",
    hint: 'Retry after the Retry-After delay.',
    retry: 'later',
  },
  API_UNSUPPORTED_MEDIA_TYPE: {
    summary: 'A write came with a body that is not application/json.',
    hint: 'Send the document with Content-Type: application/json.',
  },
  API_BODY_TOO_LARGE: {
    summary: 'A write came with a body larger than the API takes (1 MiB).',
    hint: 'A DeploymentStatusManifest or DeviceCapabilitiesManifest is a few KiB; check what is sent.',
  },
  API_BODY_INVALID: {
    summary: 'A write came with a body that is not a UTF-8 JSON object.',
  },
  API_DOCUMENT_INVALID: {
    summary:
      'A write came with a document that is not a valid DeploymentStatusManifest / DeviceCapabilitiesManifest, or names another deployment or device than its path.',
    hint: 'The problem body lists each field in `errors`.',
  },
  API_FORBIDDEN: {
    summary: "A client asked to write another device's resources (its SVID names one device only).",
    hint: "Use the device's own SVID and its own deviceId in the path and body.",
  },
  API_RATE_LIMITED: {
    summary: 'A device sent more API requests than its budget (reads and writes counted apart).',
    hint: 'Wait the Retry-After delay; a device polling every few seconds never meets the limit.',
    retry: 'later',
  },
  API_SETTINGS_INVALID: {
    summary: 'The API settings (listen address, trust domain or WFM id) are not valid.',
    hint: 'Listen is host:port; a trust domain is lower-case letters, digits, dots, dashes and underscores; a WFM id is letters, digits, dots, dashes and underscores.',
  },
} as const satisfies CodeTable;
