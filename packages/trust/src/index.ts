/**
 * packages/trust: the cryptography of margo-gitops (node-forge). CONTRACT: the signatures below are
 * what orchestrator and agent code against; the trust owner implements them (replacing the
 * placeholders) without changing their shape.
 */
export {};
