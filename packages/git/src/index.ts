export type {
  Author,
  CommitFilesInput,
  CommitResult,
  CompactOptions,
  CompactResult,
  FetchOptions,
  FetchResult,
  FileChanges,
  GitAuth,
  GitStore,
  PushOptions,
  RemoteOptions,
  TreeEntry,
} from './store.js';
export { IsoGitStore } from './iso-git-store.js';
export { NativeGitStore, blobOid, type NativeGitStoreOptions } from './native-git-store.js';
export { updateWithRetry, backoffDelay, type UpdateWithRetryOptions, type UpdateResult } from './retry.js';
export { authorizationHeader, redactUrl } from './auth-header.js';
export { ZERO_OID, fullRef, shortRef, isOid } from './paths.js';
export { readRef } from './refs-fs.js';
export {
  TokenStore,
  ROLES,
  FLEET_READER_ROLES,
  sha256Hex,
  type Role,
  type TokenRecord,
  type TokenInfo,
  type IssuedToken,
} from './server/token-store.js';
export {
  canRead,
  canPush,
  canUpdateRef,
  type RepoKind,
  type RepoRef,
  type Decision,
} from './server/access.js';
export { RateLimiter, DEFAULT_RATE_LIMIT, type RateLimitOptions } from './server/rate-limit.js';
export {
  createRepos,
  ensureDeviceRepo,
  ensureDeviceRepos,
  repoRef,
  repoPath,
  assertDeviceId,
} from './server/repos.js';
export {
  createGitHttpHandler,
  DEFAULT_AUTH_FAILURES,
  type GitHttpHandler,
  type GitHttpHandlerOptions,
  type PushEvent,
  type TokenVerifier,
} from './server/http-handler.js';
export { parseGitPath, tokenFromHeader } from './server/routes.js';
export { startGitServer, type StartedGitServer } from './server/start-server.js';
export { type GitRequestEvent } from './server/request-stats.js';
export { isStatusPath, YANK_FILE, DEFAULT_STATUS_LIMITS, type StatusLimits } from './server/tree-rules.js';
export { validateCatalogPush, isApplicationDescription } from './server/catalog-validator.js';
export {
  formatPushFinding,
  type PushValidator,
  type PushValidationContext,
  type PushFinding,
  type RefUpdate,
  type ChangedFile,
} from './server/push-validation.js';
export { checkGitBinary, parseGitVersion, MIN_GIT_VERSION } from './server/git-binary.js';
