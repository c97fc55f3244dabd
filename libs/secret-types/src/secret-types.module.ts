import { Module, type OnModuleInit } from '@nestjs/common';
import { assertSecretTypesDefined } from './registry.js';

/** Import it in a process's root module: start-up fails, naming the type, when a secret type has no definition. */
@Module({})
export class SecretTypesModule implements OnModuleInit {
  onModuleInit(): void {
    assertSecretTypesDefined();
  }
}
