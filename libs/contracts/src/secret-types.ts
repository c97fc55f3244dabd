export enum SecretType {
  AwsIamKey = 'aws-iam-key',
  AwsIamConsolePassword = 'aws-iam-console-password',
}

export const SECRET_TYPES: readonly SecretType[] = Object.values(SecretType);

export type HeartbeatStatus = 'unknown' | 'success' | 'failed' | 'unable-to-connect' | 'not-supported';
