/** Onboarding API of the orchestrator: root CA download, device enrolment, OAuth2 token endpoint. */
export {
  createOnboardingHttpHandler,
  authenticateBearer,
  ONBOARDING_PATHS,
  type OnboardingHandlerOptions,
  type OnboardingLogger,
  type EnrolmentRequest,
  type EnrolmentResponse,
} from './handler.js';
export { FailureRateLimiter } from './rate-limit.js';
/** A JSON answer with `cache-control: no-store` (also the console's, with its own headers added). */
export { sendJson } from './http-util.js';
