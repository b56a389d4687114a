export * from './ids.js';
export * from './split.js';
export * from './group-events.js';
export * from './envelope.js';
