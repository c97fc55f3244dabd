/**
 * Warnings a change records on its rotation (`warnings[]`): something a person
 * may want to know about a change that still went on. Same rules as the error
 * catalogue: one wording per code, parameters never hold a secret value.
 */

interface WarningBase<P> {
  /** When it happens, for docs/errors.md. */
  readonly when: string;
  readonly message: (params: P) => string;
}

export type WarningSpec<P> = WarningBase<P> &
  ([P] extends [void] ? { readonly examples?: undefined } : { readonly examples: readonly [P, ...P[]] });

function warning<P = void>(w: WarningSpec<P>): WarningSpec<P> {
  return w;
}

export const WARNINGS = {
  DISCOVERY_CALL_DENIED: warning<{ action: string }>({
    when: 'a discovery run was denied an optional call (iam:GetAccessKeyLastUsed or iam:GetLoginProfile): it goes on, and the findings leave that column unknown (null)',
    message: (p) => `${p.action} is denied to the executor: the findings of this run do not say what it answers; grant it (GET /v1/discoveries/required-permissions) to see it`,
    examples: [{ action: 'iam:GetLoginProfile' }],
  }),
  CURRENT_KEY_INVALID: warning<{ username: string }>({
    when: 'AWS rejects the stored key, and the change goes on through the privileged account',
    message: (p) => `AWS rejects the stored key of ${p.username}; rotating through the executor`,
    examples: [{ username: 'alice' }],
  }),
  USER_ID_UNCHECKED: warning<{ username: string }>({
    when: "the IAM user's UserId could not be compared (iam:GetUser denied, and the stored key does not work), so a re-created user would go unnoticed",
    message: (p) => `could not confirm the identity of ${p.username} (iam:GetUser denied, and the stored key does not work)`,
    examples: [{ username: 'alice' }],
  }),
  ORPHAN_DELETED: warning<{ maskedKeyId: string }>({
    when: 'make-room deleted a key an interrupted attempt of this rotation created and never stored',
    message: (p) => `deleted ${p.maskedKeyId}, created by an interrupted attempt of this rotation and never stored`,
    examples: [{ maskedKeyId: 'AKIA…WXYZ' }],
  }),
  RETIRE_FAILED: warning<{ action: 'deleted' | 'inactivated'; reason: string }>({
    when: 'the new key is stored and works, but the previous key could not be deleted or inactivated yet; retire is retried (10 times, then the next rotation deletes it)',
    message: (p) => `the new key is stored and works, but the previous key could not be ${p.action} yet: ${p.reason}`,
    examples: [{ action: 'deleted', reason: 'missing permission iam:DeleteAccessKey on user/alice; grant iam:DeleteAccessKey to the executing identity' }],
  }),
  GRACE_ENDED_EARLY: warning<{ maskedKeyId: string; rotationId: string; action: 'deleted' | 'inactivated' | 'kept' }>({
    when: "a change was requested while the previous key was in its grace period (previousKeyGraceSeconds): AWS allows two keys, so that key's grace ends now",
    message: (p) => `the grace period of the previous key ${p.maskedKeyId} (rotation ${p.rotationId}) was ended early: it was ${p.action} to make room for this change`,
    examples: [{ maskedKeyId: 'AKIA…WXYZ', rotationId: '01890a5d-ac96-774b-bcce-b302099a8057', action: 'inactivated' }],
  }),
  NAMED_KEY_DELETED: warning<{ maskedKeyId: string }>({
    when: "an adoption's make-room deleted the user's other key that the request named (deleteFindingId), to make room for the new key",
    message: (p) => `deleted ${p.maskedKeyId}, the key the adoption request named to make room (deleteFindingId)`,
    examples: [{ maskedKeyId: 'AKIA…WXYZ' }],
  }),
  PASSWORD_POLICY_UNREAD: warning({
    when: "the account's password policy could not be read (iam:GetAccountPasswordPolicy denied); passwords use all four character classes",
    message: () => 'iam:GetAccountPasswordPolicy is denied: generating with all four character classes',
  }),
  PASSWORD_REGENERATED: warning({
    when: 'AWS refused a password made to fit its policy, most likely because an interrupted attempt applied it already; a fresh one is set',
    message: () => 'AWS refused the new password, perhaps because it took it already in an interrupted attempt; setting a fresh one',
  }),
  PASSWORD_POLICY_RETRY: warning<{ length: number }>({
    when: 'with the password policy unread, AWS refused a password; a longer one is tried (up to 128 characters)',
    message: (p) => `AWS refused a ${p.length}-character password; trying a longer one`,
    examples: [{ length: 20 }],
  }),
  PASSWORD_RESUME: warning({
    when: "a user changing its own password: AWS does not take the current password as the old one, so Keyturn checks whether an interrupted attempt applied the new one",
    message: () => 'AWS does not have the current password; checking whether an interrupted attempt already applied the new one',
  }),
} as const;

export type WarningCode = keyof typeof WARNINGS;
/** `WarningCode.RETIRE_FAILED === 'RETIRE_FAILED'`: how code outside this file names a warning. */
export const WarningCode = Object.freeze(Object.fromEntries(Object.keys(WARNINGS).map((k) => [k, k]))) as { readonly [K in WarningCode]: K };

export type WarningParams<W extends WarningCode> = Parameters<(typeof WARNINGS)[W]['message']>[0];

/** The message of warning `code` for `params` (undefined for a warning whose message takes none). */
export function warningMessage<W extends WarningCode>(code: W, params: WarningParams<W>): string {
  return (WARNINGS[code].message as (p: unknown) => string)(params);
}

export function warningExamples<W extends WarningCode>(code: W): readonly WarningParams<W>[] {
  return ((WARNINGS[code] as { examples?: readonly WarningParams<W>[] }).examples ?? [undefined as WarningParams<W>]);
}
