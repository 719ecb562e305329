export * from './media-types.js';
