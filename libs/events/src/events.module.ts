import { Module } from '@nestjs/common';
import { WebhookDispatcherService } from './webhook-dispatcher.service.js';

/** Webhook delivery from the outbox (events are written by the changes they announce: EventsRepository). Needs StoreModule. */
@Module({
  providers: [WebhookDispatcherService],
  exports: [WebhookDispatcherService],
})
export class EventsModule {}
