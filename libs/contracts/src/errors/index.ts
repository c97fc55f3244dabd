export * from './error-catalogue.js';
export * from './warning-catalogue.js';
export * from './keyturn-error.js';
