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
export { NativeGitStore, blobOid } from './native-git-store.js';
export { updateWithRetry, backoffDelay, type UpdateWithRetryOptions, type UpdateResult } from './retry.js';
export { authorizationHeader, redactUrl } from './auth-header.js';
export { ZERO_OID, fullRef, shortRef, isOid } from './paths.js';
