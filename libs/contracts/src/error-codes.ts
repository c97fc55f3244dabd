/** Error codes of libs/iam: every AWS SDK failure is mapped to one of these. */
export enum IamErrorCode {
  AccessDenied = 'IAM_ACCESS_DENIED',
  KeyLimit = 'IAM_KEY_LIMIT',
  NoSuchEntity = 'IAM_NO_SUCH_ENTITY',
  InvalidCredentials = 'IAM_INVALID_CREDENTIALS',
  Throttled = 'IAM_THROTTLED',
  Unreachable = 'IAM_UNREACHABLE',
  PasswordPolicy = 'IAM_PASSWORD_POLICY',
  /** Anything AWS answered that has no better code (kept with AWS's own code in the message). */
  Unexpected = 'IAM_UNEXPECTED',
}
