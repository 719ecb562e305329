/**
 * @margo-gitops/trust: the cryptography of margo-gitops. node-forge for X.509 certificates and
 * PKCS#10 requests; node:crypto for hashes, RSA signatures/OAEP, AES-GCM and randomness.
 * Pure functions except the file-backed stores (PKI folder, revocation list, token stores).
 */
export { assertDeviceId, isValidDeviceId } from './device-id.js';
export { canonicalJson } from './canonical-json.js';
export {
  createRootCA,
  createSigningKey,
  type KeyAndCert,
  type CreateRootCaOptions,
  type IssueOptions,
} from './ca.js';
export {
  createDeviceKeyAndCsr,
  createCsrForKey,
  checkDeviceCsr,
  signDeviceCsr,
  verifyDeviceCert,
  describeCertificate,
  MIN_DEVICE_KEY_BITS,
  type CheckedCsr,
  type VerifiedDevice,
  type VerifyDeviceCertOptions,
} from './device-identity.js';
export { certificateFingerprint, DEFAULT_RSA_BITS } from './x509.js';
export {
  writePki,
  initPki,
  loadPki,
  rotateSigningKey,
  revokeSigner,
  readRevokedSigners,
  loadSigningState,
  type SigningState,
  type RevokedSignerEntry,
  deviceCertPath,
  writeDeviceCert,
  readDeviceCert,
  removeDeviceCert,
  caFingerprint,
  PKI_FILES,
  type Pki,
} from './pki-store.js';
export { nextManifestVersion, AppliedManifestStore, type AppliedManifestRecord } from './manifest-state.js';
export {
  createManifestSigner,
  createSignedStateAuditor,
  createDesiredStateVerifier,
  createStatusSigner,
  createUnsealer,
  createStatusVerifier,
  type ManifestSignerOptions,
  type ManifestSigning,
  type DesiredStateVerifierOptions,
} from './adapters.js';
export { revokeDeviceCredentials } from './revoke-device.js';
export { RevocationList, type RevokedEntry } from './revocation.js';
export {
  MANIFEST_FILE,
  MANIFEST_API_VERSION,
  MANIFEST_KIND,
  MANIFEST_SIGNATURE_ALGORITHM,
  buildManifest,
  signManifest,
  createSignedManifest,
  parseSignedManifest,
  parseManifestVersion,
  verifyManifest,
  needsResign,
  sha256Digest,
  type DesiredStateManifest,
  type SignedManifest,
  type ManifestVersion,
  type BuildManifestInput,
  type VerifyManifestOptions,
  type VerifiedManifest,
  type NeedsResignOptions,
} from './manifest.js';
export {
  SEALED_PREFIX,
  seal,
  unseal,
  unsealToBuffer,
  isSealed,
  unsealDeep,
  sealFiles,
  unsealFiles,
} from './sealed.js';
export {
  SIGNATURES_FILE,
  signPayload,
  verifyPayload,
  signFiles,
  verifySignedFiles,
  type VerifyPayloadOptions,
  type VerifiedPayload,
  type SignedFilesResult,
} from './payload-signature.js';
export { hashToken, tokenMatchesHash, generateToken } from './tokens.js';
export {
  EnrolmentTokenStore,
  enrolmentTokensPath,
  type EnrolmentTokenRecord,
  type IssuedEnrolmentToken,
  type EnrolmentProofRequest,
} from './enrolment-tokens.js';
export {
  ClientCredentialStore,
  clientCredentialsPath,
  type ClientRecord,
  type AccessTokenResponse,
  type VerifiedAccessToken,
} from './client-credentials.js';
// Everything of the device entry (node:crypto only), including the private-file helpers.
export * from './device.js';
export {
  DEFAULT_TRUST_DOMAIN,
  isValidTrustDomain,
  isValidWfmId,
  assertSpiffeIdentity,
  wfmIdFromFingerprint,
  wfmSpiffeId,
  clientSpiffeId,
  parseSpiffeId,
  uriSans,
  identifyPeer,
  checkLeaf,
  spiffeBundle,
  type SpiffeIdentity,
  type IdentifiedPeer,
  type RefusedPeer,
  type IdentifyPeerOptions,
} from './spiffe.js';
export {
  SVID_FILES,
  readSpiffeIdentity,
  writeSpiffeIdentity,
  issueDeviceSvid,
  issueServerSvid,
  ensureServerSvid,
} from './svid.js';
export {
  WITNESS_CONTEXT,
  witnessPayload,
  isWitnessEntry,
  signWitness,
  verifyWitness,
  type WitnessEntry,
  type VerifiedWitness,
  type VerifyWitnessOptions,
} from './api-witness.js';
