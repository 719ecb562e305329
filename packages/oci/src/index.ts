export * from './media-types.js';
export * from './layout.js';
export * from './client/index.js';
export * from './registry/index.js';
export * from './pack/index.js';
