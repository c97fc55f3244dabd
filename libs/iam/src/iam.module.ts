import { type DynamicModule, type FactoryProvider, Inject, Module, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { AwsIamClient, type AwsIamClientOptions } from './aws-iam.adapter.js';
import { IAM_CLIENT, type IamClient } from './iam-client.port.js';

/** The adapter itself, under whatever decorates it as IAM_CLIENT; kept inside the module so it can close it. */
const AWS_IAM_ADAPTER = Symbol('AWS_IAM_ADAPTER');

/** Wraps the adapter before it is provided as IAM_CLIENT (the worker paces every call this way). */
export interface IamClientDecorator {
  inject?: FactoryProvider['inject'];
  /** Gets the adapter first, then the providers named in `inject`. */
  useFactory: (client: IamClient, ...args: never[]) => IamClient | Promise<IamClient>;
}

export interface IamModuleAsyncOptions {
  imports?: DynamicModule['imports'];
  inject?: FactoryProvider['inject'];
  useFactory: (...args: never[]) => AwsIamClientOptions | Promise<AwsIamClientOptions>;
  decorate?: IamClientDecorator;
}

/**
 * Provides {@link IAM_CLIENT}. Not global: a module that talks to AWS imports
 * it, which keeps the set of AWS callers visible in the module graph.
 */
@Module({})
export class IamModule implements OnApplicationShutdown {
  constructor(@Inject(AWS_IAM_ADAPTER) private readonly client: AwsIamClient) {}

  static forRoot(options: AwsIamClientOptions = {}): DynamicModule {
    return {
      module: IamModule,
      global: false,
      providers: [{ provide: AWS_IAM_ADAPTER, useFactory: () => new AwsIamClient(options) }, iamClientProvider()],
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
          provide: AWS_IAM_ADAPTER,
          inject: options.inject ?? [],
          useFactory: async (...args: never[]) => new AwsIamClient(await options.useFactory(...args)),
        },
        iamClientProvider(options.decorate),
      ],
      exports: [IAM_CLIENT],
    };
  }

  // Sockets kept alive by cached SDK clients would otherwise hold the process open on shutdown.
  // Not in onModuleDestroy: Nest runs that before beforeApplicationShutdown, where the worker
  // drains its jobs and the API its requests, and closing would cut their AWS calls mid-flight.
  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
  }
}

function iamClientProvider(decorator?: IamClientDecorator): Provider {
  if (!decorator) return { provide: IAM_CLIENT, useExisting: AWS_IAM_ADAPTER };
  return {
    provide: IAM_CLIENT,
    inject: [AWS_IAM_ADAPTER, ...(decorator.inject ?? [])],
    useFactory: (client: IamClient, ...args: never[]) => decorator.useFactory(client, ...args),
  };
}
