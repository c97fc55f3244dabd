#!/usr/bin/env node
// Creates an IAM user in a running IAM emulator (`npm run iam-emulator`) the way an
// administrator would in AWS, through the AWS SDK with the account's root key: the
// user, an inline policy that lets it rotate its own access key and change its own
// console password (what Keyturn needs in basic mode), a console password and an
// access key. It prints shell assignments for the README walkthrough:
//
//   eval "$(node test/iam-emulator/bin/create-user.mjs ci-bot)"
//
// Plain JavaScript that needs no build, so it works whichever way the emulator is built.
import { parseArgs } from 'node:util';
import { randomInt } from 'node:crypto';
import { CreateAccessKeyCommand, CreateLoginProfileCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';

// The SDK's notice about future Node versions says nothing about this user; it would only clutter the output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const USAGE = `usage: node test/iam-emulator/bin/create-user.mjs [--endpoint URL] <user-name>

  --endpoint URL   the emulator (default: $IAM_EMULATOR, else http://127.0.0.1:4599)

Prints USER_NAME, ACCOUNT_ID, ACCESS_KEY_ID, SECRET_ACCESS_KEY and PASSWORD as shell assignments.
The root key is IAM_EMULATOR_ROOT_ACCESS_KEY_ID / IAM_EMULATOR_ROOT_SECRET_ACCESS_KEY, with the
emulator's defaults.`;

const fail = (message, code = 1) => {
  process.stderr.write(`create-user: ${message}\n`);
  process.exit(code);
};

let args;
try {
  args = parseArgs({ options: { endpoint: { type: 'string' }, help: { type: 'boolean' } }, allowPositionals: true });
} catch (e) {
  fail(`${e.message}\n\n${USAGE}`, 64);
}
if (args.values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const userName = args.positionals[0];
if (!userName || args.positionals.length > 1) fail(`give one user name\n\n${USAGE}`, 64);

const endpoint = args.values.endpoint ?? process.env.IAM_EMULATOR ?? 'http://127.0.0.1:4599';
const client = {
  endpoint,
  region: 'us-east-1',
  maxAttempts: 1,
  credentials: {
    accessKeyId: process.env.IAM_EMULATOR_ROOT_ACCESS_KEY_ID ?? 'AKIAEMULATORROOT0000',
    secretAccessKey: process.env.IAM_EMULATOR_ROOT_SECRET_ACCESS_KEY ?? 'emulatorRootSecretKey0000000000000000000',
  },
};

/**
 * 20 characters from all four classes, so any account password policy up to
 * that length accepts it; no quote, backslash, dollar or backtick, so the
 * value is safe inside shell quotes and JSON strings alike.
 */
function password() {
  const classes = ['ABCDEFGHJKLMNPQRSTUVWXYZ', 'abcdefghijkmnopqrstuvwxyz', '23456789', '!#%*+-=?@^_'];
  const all = classes.join('');
  const chars = classes.map((c) => c[randomInt(c.length)]);
  while (chars.length < 20) chars.push(all[randomInt(all.length)]);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join('');
}

const iam = new IAMClient(client);
const sts = new STSClient(client);
try {
  const { Account: accountId } = await sts.send(new GetCallerIdentityCommand({}));
  await iam.send(new CreateUserCommand({ UserName: userName }));
  const self = `arn:aws:iam::${accountId}:user/\${aws:username}`;
  await iam.send(
    new PutUserPolicyCommand({
      UserName: userName,
      PolicyName: 'keyturn-rotate-self',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: ['iam:CreateAccessKey', 'iam:UpdateAccessKey', 'iam:DeleteAccessKey', 'iam:ListAccessKeys', 'iam:ChangePassword', 'iam:GetUser'],
            Resource: self,
          },
          { Effect: 'Allow', Action: 'iam:GetAccountPasswordPolicy', Resource: '*' },
        ],
      }),
    }),
  );
  const pw = password();
  await iam.send(new CreateLoginProfileCommand({ UserName: userName, Password: pw }));
  const { AccessKey: key } = await iam.send(new CreateAccessKeyCommand({ UserName: userName }));
  process.stdout.write(
    [
      `# ${userName} in the IAM emulator at ${endpoint} (account ${accountId})`,
      `USER_NAME='${userName}'`,
      `ACCOUNT_ID='${accountId}'`,
      `ACCESS_KEY_ID='${key.AccessKeyId}'`,
      `SECRET_ACCESS_KEY='${key.SecretAccessKey}'`,
      `PASSWORD='${pw}'`,
      '',
    ].join('\n'),
  );
} catch (e) {
  if (e.name === 'EntityAlreadyExistsException') {
    fail(`the emulator at ${endpoint} already has a user named ${userName}: pick another name, or restart the emulator (it keeps everything in memory)`);
  }
  if (networkCode(e)) fail(`cannot reach the emulator at ${endpoint} (${networkCode(e)}): start it with npm run iam-emulator, or pass --endpoint`, 69);
  fail(`${e.name}: ${e.message}`);
} finally {
  iam.destroy();
  sts.destroy();
}

function networkCode(e) {
  for (let x = e; x; x = x.cause) if (/^E[A-Z]+$/.test(x.code ?? '')) return x.code;
  return undefined;
}
