export * from './due-work.service.js';
export * from './reconciler.service.js';
export * from './scheduling.module.js';
export * from './discovery-schedule.service.js';
