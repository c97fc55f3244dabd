export * from './heartbeat.usecase.js';
export * from './heartbeat.module.js';
