// The limiter lives in spec so the Git server (which cannot import the orchestrator) shares it.
export { FailureRateLimiter } from '@margo-gitops/spec';
