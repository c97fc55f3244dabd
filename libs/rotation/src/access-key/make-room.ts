import { IamError, type AccessKeyMetadata } from '@keyturn/iam';

/**
 * Slack around the window in which a CreateAccessKey of ours can have run: AWS
 * reports CreateDate truncated to the second, and AWS's clock and the worker's
 * may differ by a little.
 */
export const CREATE_DATE_SLACK_MS = 2_000;

export type KeyClass = 'current' | 'previous' | 'pending' | 'held' | 'orphan' | 'unmanaged';

/** Who holds the keys of an IAM user, as far as Keyturn knows. */
export interface KeyOwnership {
  /** This secret's stored keys. */
  current?: string;
  previous?: string;
  pending?: string;
  /** Access key id → the other Keyturn secret that holds it (any version state but retired). */
  heldByOthers: ReadonlyMap<string, string>;
}

/** When this rotation's last CreateAccessKey started, and the longest it can have run (pacer wait + SDK budget). */
export interface CreateWindow {
  aboutToCreateAt: Date | null;
  budgetMs: number;
}

export interface ClassifiedKey {
  key: AccessKeyMetadata;
  kind: KeyClass;
  /** For `held`: the secret that holds the key. */
  holderSecretId?: string;
}

/**
 * Sorts the user's keys as step 2 "make room" of docs/architecture.md describes. An orphan is a
 * key that an interrupted attempt of THIS rotation created and never stored:
 * no Keyturn secret holds it, and AWS created it inside the window in which
 * that attempt's CreateAccessKey could have run. A key another secret holds is
 * `held` and a key created at any other time is `unmanaged`: neither is ever
 * deleted by make-room.
 */
export function classifyKeys(keys: AccessKeyMetadata[], own: KeyOwnership, window: CreateWindow): ClassifiedKey[] {
  return keys.map((key): ClassifiedKey => {
    const id = key.accessKeyId;
    if (id === own.current) return { key, kind: 'current' };
    if (id === own.previous) return { key, kind: 'previous' };
    if (id === own.pending) return { key, kind: 'pending' };
    const holder = own.heldByOthers.get(id);
    if (holder) return { key, kind: 'held', holderSecretId: holder };
    if (window.aboutToCreateAt && key.createDate) {
      const from = window.aboutToCreateAt.getTime() - CREATE_DATE_SLACK_MS;
      const to = window.aboutToCreateAt.getTime() + window.budgetMs + CREATE_DATE_SLACK_MS;
      const created = key.createDate.getTime();
      if (created >= from && created <= to) return { key, kind: 'orphan' };
    }
    return { key, kind: 'unmanaged' };
  });
}

export type MakeRoomBlocker =
  | { kind: 'held'; key: AccessKeyMetadata; holderSecretId: string }
  | { kind: 'unmanaged'; key: AccessKeyMetadata };

/**
 * What make-room does with the classified keys: delete the orphans; then, if
 * the user would still be at AWS's limit of two, delete this secret's previous
 * key, or else stop at the first key it may not touch.
 */
export function planMakeRoom(classes: ClassifiedKey[]): {
  orphans: AccessKeyMetadata[];
  deletePrevious?: AccessKeyMetadata;
  blocker?: MakeRoomBlocker;
} {
  const orphans = classes.filter((c) => c.kind === 'orphan').map((c) => c.key);
  const remaining = classes.filter((c) => c.kind !== 'orphan');
  if (remaining.length < 2) return { orphans };
  const previous = remaining.find((c) => c.kind === 'previous');
  if (previous) return { orphans, deletePrevious: previous.key };
  // Another secret's key is named first: that is the one a person has to sort out.
  const held = remaining.find((c) => c.kind === 'held');
  if (held) return { orphans, blocker: { kind: 'held', key: held.key, holderSecretId: held.holderSecretId! } };
  const unmanaged = remaining.find((c) => c.kind === 'unmanaged');
  return unmanaged ? { orphans, blocker: { kind: 'unmanaged', key: unmanaged.key } } : { orphans };
}

/** A key already gone (not the user) makes deleting or inactivating it again a no-op. */
export async function unlessKeyGone(call: Promise<void>): Promise<void> {
  try {
    await call;
  } catch (e) {
    if (!(e instanceof IamError && e.reason === 'no-such-access-key')) throw e;
  }
}
