import { type DynamicModule, type FactoryProvider, Inject, Module, type OnModuleDestroy } from '@nestjs/common';
import { AwsIamClient, type AwsIamClientOptions } from './aws-iam.adapter.js';
import { IAM_CLIENT } from './iam-client.port.js';

export interface IamModuleAsyncOptions {
  imports?: DynamicModule['imports'];
  inject?: FactoryProvider['inject'];
  useFactory: (...args: never[]) => AwsIamClientOptions | Promise<AwsIamClientOptions>;
}

/**
 * Provides {@link IAM_CLIENT}. Not global: a module that talks to AWS imports
 * it, which keeps the set of AWS callers visible in the module graph.
 */
@Module({})
export class IamModule implements OnModuleDestroy {
  constructor(@Inject(IAM_CLIENT) private readonly client: AwsIamClient) {}

  static forRoot(options: AwsIamClientOptions = {}): DynamicModule {
    return {
      module: IamModule,
      global: false,
      providers: [{ provide: IAM_CLIENT, useFactory: () => new AwsIamClient(options) }],
      exports: [IAM_CLIENT],
    };
  }

  /** For options that come from another provider (typically the validated config). */
  static forRootAsync(options: IamModuleAsyncOptions): DynamicModule {
    return {
      module: IamModule,
      global: false,
      imports: options.imports ?? [],
      providers: [
        {
          provide: IAM_CLIENT,
          inject: options.inject ?? [],
          useFactory: async (...args: never[]) => new AwsIamClient(await options.useFactory(...args)),
        },
      ],
      exports: [IAM_CLIENT],
    };
  }

  // Sockets kept alive by cached SDK clients would otherwise hold the process open on shutdown.
  async onModuleDestroy(): Promise<void> {
    await this.client.close();
  }
}
