import { type BeforeApplicationShutdown, Inject, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AwsIamClient } from './aws-iam.adapter.js';
import { IAM_CLIENT, type IamClient } from './iam-client.port.js';
import { IamModule } from './iam.module.js';

@Injectable()
class NeedsIam {
  constructor(@Inject(IAM_CLIENT) readonly iam: IamClient) {}
}

const OPTIONS_TOKEN = 'IAM_TEST_OPTIONS';

@Module({ providers: [{ provide: OPTIONS_TOKEN, useValue: { region: 'cn-north-1', maxAttempts: 2 } }], exports: [OPTIONS_TOKEN] })
class OptionsModule {}

describe('IamModule', () => {
  it('forRoot provides IAM_CLIENT as an AwsIamClient with the given options', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [IamModule.forRoot({ region: 'us-gov-west-1' })],
      providers: [NeedsIam],
    }).compile();
    const iam = moduleRef.get(NeedsIam).iam;
    expect(iam).toBeInstanceOf(AwsIamClient);
    expect((iam as AwsIamClient).partition).toBe('aws-us-gov');
    await moduleRef.close();
  });

  it('is not global and exports only IAM_CLIENT', () => {
    const dyn = IamModule.forRoot();
    expect(dyn.global).toBe(false);
    expect(dyn.exports).toEqual([IAM_CLIENT]);
  });

  it('closes the client when the application shuts down', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [IamModule.forRoot()] }).compile();
    const client = moduleRef.get<AwsIamClient>(IAM_CLIENT);
    let closed = 0;
    const close = client.close.bind(client);
    client.close = async () => {
      closed++;
      await close();
    };
    await moduleRef.close();
    expect(closed).toBe(1);
  });

  it('closes the client only after every beforeApplicationShutdown hook: jobs and requests drain there, still calling AWS', async () => {
    const events: string[] = [];
    @Injectable()
    class Drainer implements BeforeApplicationShutdown {
      constructor(@Inject(IAM_CLIENT) readonly iam: IamClient) {}
      beforeApplicationShutdown() {
        events.push('drain');
      }
    }
    const moduleRef = await Test.createTestingModule({ imports: [IamModule.forRoot()], providers: [Drainer] }).compile();
    const client = moduleRef.get<AwsIamClient>(IAM_CLIENT);
    const close = client.close.bind(client);
    client.close = async () => {
      events.push('close');
      await close();
    };
    await moduleRef.close();
    expect(events).toEqual(['drain', 'close']);
  });

  it('forRootAsync builds the client from injected options', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        IamModule.forRootAsync({
          imports: [OptionsModule],
          inject: [OPTIONS_TOKEN],
          useFactory: (opts: { region: string }) => opts,
        }),
      ],
    }).compile();
    const client = moduleRef.get<AwsIamClient>(IAM_CLIENT);
    expect(client.region).toBe('cn-north-1');
    expect(client.partition).toBe('aws-cn');
    await moduleRef.close();
  });

  describe('forRootAsync with a decorator (how the worker paces its calls)', () => {
    const DEP = 'IAM_TEST_DEP';

    @Module({ providers: [{ provide: DEP, useValue: 'dep-value' }], exports: [DEP] })
    class DepModule {}

    const decorated = (seen: { inner?: IamClient; dep?: string }) =>
      IamModule.forRootAsync({
        imports: [OptionsModule, DepModule],
        inject: [OPTIONS_TOKEN],
        useFactory: (opts: { region: string }) => opts,
        decorate: {
          inject: [DEP],
          useFactory: (inner: IamClient, dep: string) => {
            seen.inner = inner;
            seen.dep = dep;
            return { ...({} as IamClient), decoratedBy: dep } as unknown as IamClient;
          },
        },
      });

    it('IAM_CLIENT is the decorator over the adapter built from the options, with its own injections', async () => {
      const seen: { inner?: IamClient; dep?: string } = {};
      const moduleRef = await Test.createTestingModule({ imports: [decorated(seen)], providers: [NeedsIam] }).compile();
      expect(moduleRef.get(NeedsIam).iam).toEqual({ decoratedBy: 'dep-value' });
      expect(seen.inner).toBeInstanceOf(AwsIamClient);
      expect((seen.inner as AwsIamClient).region).toBe('cn-north-1');
      expect(seen.dep).toBe('dep-value');
      await moduleRef.close();
    });

    it('still exports only IAM_CLIENT, and closes the adapter itself (the decorator need not forward close)', async () => {
      const seen: { inner?: IamClient } = {};
      const dyn = decorated(seen);
      expect(dyn.global).toBe(false);
      expect(dyn.exports).toEqual([IAM_CLIENT]);
      const moduleRef = await Test.createTestingModule({ imports: [dyn] }).compile();
      const adapter = seen.inner as AwsIamClient;
      let closed = 0;
      const close = adapter.close.bind(adapter);
      adapter.close = async () => {
        closed++;
        await close();
      };
      await moduleRef.close();
      expect(closed).toBe(1);
    });
  });
});
