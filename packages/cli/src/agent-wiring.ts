// The secured agent start (enrol or resume, verify desired state, sign status) lives in the agent
// package, so that `margo agent` and the stand-alone `margo-agent` run the same code.
export {
  startDeviceAgent as startAgent,
  manifestVerifier,
  defaultEnrolApi,
  type EnrolApi,
  type DeviceEnrolment,
} from '@margo-gitops/agent';
