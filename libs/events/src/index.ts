export * from './webhook-signature.js';
export * from './webhook-dispatcher.service.js';
export * from './events.module.js';
export type { EventType } from '@keyturn/store';
