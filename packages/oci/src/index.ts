export * from './media-types.js';
export * from './layout.js';
export * from './client/index.js';
