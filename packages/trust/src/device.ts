/**
 * `@margo-gitops/trust/device`: what a running device agent needs at every poll, on node:crypto
 * alone: verify the signed desired state, remember the applied manifest, sign status, unseal
 * secrets, and the private-file helpers. Importing this entry never loads node-forge (about 11 MB
 * of resident memory), which only the CA, the orchestrator and first-start enrolment need; a test
 * builds the device bundle and checks that.
 */
export { assertDeviceId } from './device-id.js';
export { certificateFingerprint } from './x509-native.js';
export { parseSpiffeId, uriSans } from './spiffe.js';
export { AppliedManifestStore, type AppliedManifestRecord } from './manifest-state.js';
export { createDesiredStateVerifier, type DesiredStateVerifierOptions } from './desired-state-verifier.js';
export { MANIFEST_FILE, verifyManifest, type VerifiedManifest } from './manifest.js';
export { SIGNATURES_FILE, signPayload } from './sign-payload.js';
export { unseal, unsealToBuffer, isSealed, SEALED_PREFIX } from './sealed.js';
export {
  ENROLMENT_STRING_PREFIX,
  parseEnrolmentString,
  formatEnrolmentString,
  normaliseFingerprint,
  newEnrolmentSecret,
  enrolmentProofKey,
  enrolmentProof,
  enrolmentProofMatches,
  enrolmentRequestFields,
  type EnrolmentString,
} from './enrolment-proof.js';
export {
  writeFileAtomic,
  writeFileExclusive,
  ensurePrivateDir,
  assertOwnerOnly,
  readFileIfExists,
} from './secure-fs.js';
