export * from './media-types.js';
export * from './layout.js';
