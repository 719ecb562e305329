export * from './source.js';
export * from './handler.js';
export { buildRegistryIndex, type RegistryIndex, type RepositoryEntry } from './registry-index.js';
export { VerifiedBlobStore } from './blob-store.js';
export { parseRange, type RangeResult } from './http-range.js';
