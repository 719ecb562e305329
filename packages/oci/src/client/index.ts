export {
  baseUrl,
  parseChallenge,
  registryRequest,
  type RegistryCredentials,
  type RegistryRequest,
  type RegistryTarget,
} from './http.js';
export {
  listTags,
  MANIFEST_ACCEPT,
  MAX_MANIFEST_BYTES,
  pullBlob,
  pullManifest,
  type PulledBlob,
  type PulledManifest,
} from './pull.js';
export { hasBlob, pushBlob, pushManifest, type BlobSource } from './push.js';
export { isLoopbackHost, parseOciRepository } from './reference.js';
