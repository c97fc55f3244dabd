export * from './rotation-error.js';
export * from './rotation.tokens.js';
export * from './key-rotation.usecase.js';
export * from './rotation-runner.js';
export * from './rotations.service.js';
export * from './rotation.module.js';
export * from './password-change.usecase.js';
export * from './password-generator.js';
