export * from './codes.js';
export * from './command.js';
export * from './errors.js';
export * from './frame.js';
export * from './json.js';
export * from './messages.js';
export * from './server-message.js';
export type { Field, Infer, Spec } from './schema.js';
