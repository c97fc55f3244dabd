import { Inject, Injectable, Module } from '@nestjs/common';
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

  it('closes the client when the module is destroyed', async () => {
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
});
