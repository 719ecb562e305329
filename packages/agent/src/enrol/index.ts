/** Device-side enrolment client: key + CSR made locally, POST /onboarding, identity stored 0600. */
export { enrol, updateRepositoryToken, forgetEnrolment, type EnrolOptions } from './enrol.js';
export {
  loadEnrolment,
  enrolmentFilePath,
  identityPaths,
  assertKeyMatchesCert,
  IDENTITY_FILES,
  type Enrolment,
  type EnrolmentRecord,
} from './enrolment-state.js';
