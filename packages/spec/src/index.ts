export * from './errors.js';
export * from './codes/index.js';
export type * from './model.js';
export * from './fleet/index.js';
