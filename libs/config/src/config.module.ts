import { Global, Module, type DynamicModule } from '@nestjs/common';
import type { KeyturnConfig } from './config.js';

export const KEYTURN_CONFIG = Symbol('KEYTURN_CONFIG');

/** Config is loaded (and validated) once in main.ts, before Nest boots, and shared from here. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: KeyturnConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [{ provide: KEYTURN_CONFIG, useValue: config }],
      exports: [KEYTURN_CONFIG],
    };
  }
}
