import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule, type KeyturnConfig } from '@keyturn/config';
import { StoreModule } from '@keyturn/store';
import { RedisModule } from '@keyturn/queue';
import { RotationEngineModule } from '@keyturn/rotation';
import { JobProcessor } from './job.processor.js';

@Module({})
export class RotationWorkerModule {
  static forRoot(config: KeyturnConfig): DynamicModule {
    return {
      module: RotationWorkerModule,
      imports: [ConfigModule.forRoot(config), StoreModule.forRoot(config.database.url), RedisModule.forRoot(), RotationEngineModule],
      providers: [JobProcessor],
    };
  }
}
