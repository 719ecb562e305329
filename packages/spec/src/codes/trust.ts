import type { CodeTable } from './types.js';

/** Stable error codes owned by the trust area. Add entries; never rename or remove one. */
export const trustCodes = {
  // --- keys, certificates, PKI folder ---
  TRUST_DEVICE_ID_INVALID: {
    summary: 'A device id is not usable as a certificate subject and file name.',
    hint: 'Use 1-63 characters: letters, digits, ".", "_" or "-", starting with a letter or digit.',
  },
  TRUST_PKI_EXISTS: {
    summary: 'Refused to overwrite existing keys or certificates.',
    hint: 'Keys are never overwritten silently; move the old files away first if you really mean to replace them.',
  },
  TRUST_PKI_MISSING: {
    summary: 'A key or certificate file is missing.',
    hint: 'Run `margo init` (orchestrator) or enrol the device again.',
  },
  TRUST_PKI_INSECURE_PERMISSIONS: {
    summary: 'A private key file is readable by other users.',
    hint: 'chmod 600 the key file and chmod 700 its folder.',
  },
  TRUST_KEY_INVALID: { summary: 'A key or certificate could not be parsed.' },
  TRUST_CSR_INVALID: {
    summary: 'A certificate signing request is malformed, has a bad self-signature or a weak key.',
    hint: 'Create the CSR on the device with `createDeviceKeyAndCsr` (RSA >= 2048 bits).',
  },
  TRUST_CSR_SUBJECT_MISMATCH: {
    summary: 'The CSR subject common name is not the device id being enrolled.',
    hint: 'The CSR must be made for exactly the device id the enrolment token was issued for.',
  },
  TRUST_DEVICE_CERT_UNTRUSTED: {
    summary:
      'A device certificate is not issued by this orchestrator root CA, or is not a device certificate.',
  },
  TRUST_DEVICE_CERT_WRONG_DEVICE: { summary: 'A device certificate belongs to another device.' },
  TRUST_DEVICE_CERT_EXPIRED: {
    summary: 'A device certificate is expired or not yet valid.',
    hint: 'Check the device clock; re-enrol the device if its certificate expired.',
  },
  TRUST_DEVICE_CERT_REVOKED: {
    summary: 'A device certificate was revoked.',
    hint: 'The device was revoked by an operator; it must be enrolled again under a new certificate.',
  },
  TRUST_DEVICE_ALREADY_ENROLLED: {
    summary: 'A device with this id is already enrolled.',
    hint: 'Revoke the old device or choose another device id.',
  },

  // --- signed desired-state manifest ---
  TRUST_MANIFEST_MISSING: {
    summary: 'The desired state carries no margo-manifest.json.',
    hint: 'Only the orchestrator writes device repositories; someone committed without it. Nothing was applied.',
    retry: 'later',
  },
  TRUST_MANIFEST_MALFORMED: {
    summary: 'margo-manifest.json is not a valid signed manifest.',
    retry: 'later',
  },
  TRUST_MANIFEST_VERSION_INVALID: {
    summary: 'A manifest version is not an integer in [1, 2^64-1].',
  },
  TRUST_MANIFEST_SIGNATURE_INVALID: {
    summary: 'The manifest signature does not match its content.',
    hint: 'The manifest was altered after signing. Nothing was applied; the last good state keeps running.',
    retry: 'later',
  },
  TRUST_MANIFEST_SIGNER_UNTRUSTED: {
    summary:
      'The manifest signer is not a desired-state signing certificate of this orchestrator CA (or it expired).',
    hint: 'Check that the device trusts the right root CA; nothing was applied.',
    retry: 'later',
  },
  TRUST_MANIFEST_SIGNER_REVOKED: {
    summary:
      'The manifest is signed by a desired-state signing certificate that an earlier accepted manifest revoked (a compromised, rotated key).',
    hint: 'Someone signs with a retired signing key; nothing was applied. The orchestrator signs with its new key only (`margo pki rotate-signing-key --compromised`).',
    retry: 'later',
  },
  TRUST_SIGNING_KEY_REVOKED: {
    summary:
      'The orchestrator was asked to sign with a signing certificate it lists itself in pki/revoked-signers.json.',
    hint: 'Run `margo pki rotate-signing-key` to get a new signing key; devices refuse anything the revoked one signs.',
  },
  TRUST_MANIFEST_WRONG_DEVICE: {
    summary: 'The manifest was signed for another device.',
    hint: 'Someone served another device desired state to this device; nothing was applied.',
    retry: 'later',
  },
  TRUST_MANIFEST_FILE_CHANGED: {
    summary: 'A desired-state file differs from its signed SHA-256.',
    hint: 'A file was edited outside the orchestrator; nothing was applied.',
    retry: 'later',
  },
  TRUST_MANIFEST_FILE_ADDED: {
    summary: 'The desired state contains a file the manifest does not list.',
    hint: 'A file was added outside the orchestrator; nothing was applied.',
    retry: 'later',
  },
  TRUST_MANIFEST_FILE_MISSING: {
    summary: 'A file listed in the manifest is missing from the desired state.',
    hint: 'A file was removed outside the orchestrator; nothing was applied.',
    retry: 'later',
  },
  TRUST_MANIFEST_ROLLBACK: {
    summary: 'The manifest version is not greater than the last one applied (rollback or replay).',
    hint: 'An older signed desired state was served again; nothing was applied.',
    retry: 'later',
  },
  TRUST_TREE_ENTRY_INVALID: {
    summary:
      'The desired-state tree holds an entry that is not a plain file or folder (a symlink or a gitlink).',
    hint: 'The orchestrator never writes links; the commit was refused whole and the last good state keeps running.',
    retry: 'later',
  },
  TRUST_MANIFEST_EXPIRED: {
    summary: 'The manifest expired (the desired state was frozen or the orchestrator stopped re-signing).',
    hint: 'Check that the orchestrator runs and re-signs device repositories, and the device clock.',
    retry: 'later',
  },

  // --- sealed secrets ---
  TRUST_SEALED_MALFORMED: { summary: 'A sealed value is not in the `sealed:v1:<base64>` format.' },
  TRUST_SEALED_WRONG_KEY: {
    summary: 'A sealed value was sealed to another device certificate.',
    hint: 'Re-render the desired state after the device certificate changed.',
  },
  TRUST_SEALED_TAMPERED: { summary: 'A sealed value failed authentication (altered or corrupted).' },

  // --- signed status (payload signatures) ---
  TRUST_STATUS_UNSIGNED: { summary: 'A status payload carries no signature.' },
  TRUST_STATUS_MALFORMED: {
    summary: 'A payload signature is not in the `<certificate>;<signature>` base64 form.',
  },
  TRUST_STATUS_WRONG_SIGNER: { summary: 'A status payload is signed by another device.' },
  TRUST_STATUS_REPLAYED: {
    summary:
      "A status commit's signed observed.json carries a sequence number lower than one already accepted from the device (or none, after the device sent one).",
    hint: 'Old signed status was pushed again, typically with a stolen device token: it is ignored and the last accepted report stays. Revoke the device token if this repeats.',
  },
  TRUST_STATUS_STALE: {
    summary:
      "A signed status file is not listed with its digest in the same commit's signed observed.json, so it is not part of the device's current report.",
    hint: 'An older signed file was mixed into a newer status commit; it is ignored.',
  },
  TRUST_WITNESS_MALFORMED: {
    summary:
      'An API witness entry in signatures.json is not {"witness": "<cert>;<signature>", "peer": "<spiffe id>"}.',
  },
  TRUST_WITNESS_UNTRUSTED: {
    summary:
      "An API witness certificate is not this fleet manager's X.509-SVID from our root CA (another CA, expired, or not a WFM id: a device certificate can never witness).",
    hint: 'Status files written over the API are signed by the server SVID of `margo serve`; anything else on the status branch was not.',
  },
  TRUST_WITNESS_REVOKED: { summary: 'An API witness certificate was revoked.' },
  TRUST_WITNESS_FORGED: {
    summary:
      'An API witness signature does not cover this file for this device and path (changed bytes, or an entry moved to another file or device).',
    hint: 'The file is ignored; a stolen device Git token was probably used to push it.',
  },
  TRUST_STATUS_FORGED: {
    summary: 'A status payload signature is invalid or made with a key this orchestrator never certified.',
  },
  TRUST_STATUS_OBSERVED_INVALID: {
    summary:
      'A status observed.json is not {commit, seq, files} with a hex commit, a decimal seq and sha256 digests.',
    hint: 'observed.json is written and signed by the agent on every status commit; someone else wrote this one.',
  },

  // --- enrolment tokens, OAuth2 client credentials ---
  TRUST_ENROL_TOKEN_UNKNOWN: {
    summary: 'The enrolment token is unknown.',
    hint: 'Ask the operator for a token (`margo device add ID`).',
  },
  TRUST_ENROL_TOKEN_EXPIRED: {
    summary: 'The enrolment token expired.',
    hint: 'Ask the operator for a fresh token.',
  },
  TRUST_ENROL_TOKEN_USED: {
    summary: 'The enrolment token was already used.',
    hint: 'Enrolment tokens are single-use; ask the operator for a fresh token.',
  },
  TRUST_ENROL_TOKEN_WRONG_DEVICE: { summary: 'The enrolment token was issued for another device id.' },
  TRUST_ENROL_REQUEST_INVALID: { summary: 'The enrolment request is malformed.' },
  TRUST_ENROL_RATE_LIMITED: {
    summary: 'Too many failed enrolment or token requests from this address.',
    hint: 'Wait and retry.',
    retry: 'later',
  },
  TRUST_ENROL_REFUSED: { summary: 'The orchestrator refused the enrolment.' },
  TRUST_ENROL_SERVER_ERROR: {
    summary: 'The orchestrator could not be reached or answered unexpectedly during enrolment.',
    retry: 'backoff',
  },
  TRUST_ENROL_CA_MISMATCH: {
    summary: 'The root CA served by the orchestrator does not match the pinned fingerprint.',
    hint: 'Someone may be intercepting the connection; check the fingerprint shown by `margo init`.',
  },
  TRUST_ENROL_RESPONSE_INVALID: {
    summary: 'The enrolment answer does not hold a certificate for this device key issued by the root CA.',
  },
  TRUST_ENROL_STATE_MISSING: {
    summary: 'This device is not enrolled yet.',
    hint: 'Enrol it with the URL and token from the operator.',
  },
  TRUST_ENROL_STATE_CONFLICT: {
    summary: 'The device state folder already holds an enrolment for another device or server.',
    hint: 'Use another state folder, or remove the old enrolment deliberately.',
  },
  TRUST_ENROL_PROOF_INVALID: {
    summary:
      'The enrolment proof (HMAC-SHA256 of the CSR keyed by the token secret) does not match the request.',
    hint: 'The request was not made by the holder of the enrolment string for this CSR (a replayed or altered request, or a mistyped string). The token is not used up; enrol with the string exactly as `margo device add` printed it.',
  },
  TRUST_ENROL_STRING_INVALID: {
    summary: 'The enrolment string is not of the form mge1.<deviceId>.<tokenId>.<secret>.<caFingerprint>.',
    hint: 'Copy the string exactly as `margo device add` printed it. The old ID:mge_... bearer form (no CA pin, replayable through a proxy) is no longer accepted: issue a new string.',
  },
  TRUST_OAUTH_INVALID_REQUEST: { summary: 'A token request is malformed.' },
  TRUST_OAUTH_UNSUPPORTED_GRANT: { summary: 'Only the client_credentials grant is supported.' },
  TRUST_OAUTH_INVALID_CLIENT: { summary: 'Unknown client or wrong client secret.' },
  TRUST_ACCESS_TOKEN_INVALID: {
    summary: 'An access token is invalid, expired or belongs to a revoked client.',
  },
} as const satisfies CodeTable;
