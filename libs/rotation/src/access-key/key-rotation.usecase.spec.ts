import { IamErrorCode } from '@keyturn/contracts';
import { IamError, type AccessKeyMetadata } from '@keyturn/iam';
import { CREATE_DATE_SLACK_MS, classifyKeys, planMakeRoom, unlessKeyGone, type KeyOwnership } from './make-room.js';

const T = new Date('2030-01-01T12:00:00.000Z');
const BUDGET_MS = 140_000;
const at = (ms: number) => new Date(T.getTime() + ms);
const key = (id: string, createDate?: Date): AccessKeyMetadata => ({ accessKeyId: id, status: 'Active', createDate, userName: 'u' });
const none: KeyOwnership = { heldByOthers: new Map() };
const window = { aboutToCreateAt: T, budgetMs: BUDGET_MS };

const kinds = (keys: AccessKeyMetadata[], own: KeyOwnership, w: { aboutToCreateAt: Date | null; budgetMs: number } = window) =>
  classifyKeys(keys, own, w).map((c) => [c.key.accessKeyId, c.kind, c.holderSecretId ?? null]);

describe('classifyKeys', () => {
  it("recognises this secret's current, previous and pending keys whenever they were created", () => {
    const own: KeyOwnership = { current: 'AKIACUR', previous: 'AKIAPRE', pending: 'AKIAPEN', heldByOthers: new Map() };
    expect(kinds([key('AKIACUR', at(5_000)), key('AKIAPRE', at(-86_400_000)), key('AKIAPEN', at(1_000))], own)).toEqual([
      ['AKIACUR', 'current', null],
      ['AKIAPRE', 'previous', null],
      ['AKIAPEN', 'pending', null],
    ]);
  });

  it('never calls a key another secret holds an orphan, even one created inside the window: it is held, with the holder named', () => {
    const own: KeyOwnership = { current: 'AKIAMINE', heldByOthers: new Map([['AKIAOTHER', 'secret-s2']]) };
    expect(kinds([key('AKIAMINE', at(-60_000)), key('AKIAOTHER', at(2_000))], own)).toEqual([
      ['AKIAMINE', 'current', null],
      ['AKIAOTHER', 'held', 'secret-s2'],
    ]);
  });

  it('an unstored key created inside [about to create − slack, about to create + call budget + slack] is an orphan', () => {
    expect(
      kinds(
        [
          key('AKIAEARLY', at(-CREATE_DATE_SLACK_MS)), // CreateDate is truncated to the second
          key('AKIAATT', T),
          key('AKIALATE', at(BUDGET_MS + CREATE_DATE_SLACK_MS)), // the last moment the call could still have run
        ],
        none,
      ),
    ).toEqual([
      ['AKIAEARLY', 'orphan', null],
      ['AKIAATT', 'orphan', null],
      ['AKIALATE', 'orphan', null],
    ]);
  });

  it('a key created outside that window is unmanaged: before it, or later (a person, an hour after)', () => {
    expect(
      kinds(
        [
          key('AKIABEFORE', at(-CREATE_DATE_SLACK_MS - 1)),
          key('AKIAAFTER', at(BUDGET_MS + CREATE_DATE_SLACK_MS + 1)),
          key('AKIAHOUR', at(3_600_000)),
        ],
        none,
      ),
    ).toEqual([
      ['AKIABEFORE', 'unmanaged', null],
      ['AKIAAFTER', 'unmanaged', null],
      ['AKIAHOUR', 'unmanaged', null],
    ]);
  });

  it('without "about to create" on record, or without a CreateDate, nothing is an orphan', () => {
    expect(kinds([key('AKIAX', T)], none, { aboutToCreateAt: null, budgetMs: BUDGET_MS })).toEqual([['AKIAX', 'unmanaged', null]]);
    expect(kinds([key('AKIAY')], none)).toEqual([['AKIAY', 'unmanaged', null]]);
  });

  it("this secret's own stored keys win over an index hit (never reported as held by itself)", () => {
    const own: KeyOwnership = { current: 'AKIACUR', heldByOthers: new Map([['AKIACUR', 'secret-other']]) };
    expect(kinds([key('AKIACUR', T)], own)).toEqual([['AKIACUR', 'current', null]]);
  });
});

describe('planMakeRoom', () => {
  const plan = (keys: AccessKeyMetadata[], own: KeyOwnership) => planMakeRoom(classifyKeys(keys, own, window));

  it('deletes orphans; with room left, nothing else', () => {
    const p = plan([key('AKIACUR', at(-60_000)), key('AKIAORPH', at(1_000))], { current: 'AKIACUR', heldByOthers: new Map() });
    expect(p.orphans.map((k) => k.accessKeyId)).toEqual(['AKIAORPH']);
    expect(p.deletePrevious).toBeUndefined();
    expect(p.blocker).toBeUndefined();
  });

  it("at the limit, deletes this secret's previous key", () => {
    const p = plan([key('AKIACUR', at(-60_000)), key('AKIAPRE', at(-120_000))], { current: 'AKIACUR', previous: 'AKIAPRE', heldByOthers: new Map() });
    expect(p.deletePrevious?.accessKeyId).toBe('AKIAPRE');
    expect(p.blocker).toBeUndefined();
  });

  it("at the limit with another secret's key: blocked by that key and its holder, nothing deleted", () => {
    const p = plan([key('AKIACUR', at(-60_000)), key('AKIAS2', at(2_000))], { current: 'AKIACUR', heldByOthers: new Map([['AKIAS2', 'secret-s2']]) });
    expect(p.orphans).toEqual([]);
    expect(p.deletePrevious).toBeUndefined();
    expect(p.blocker).toEqual({ kind: 'held', key: expect.objectContaining({ accessKeyId: 'AKIAS2' }), holderSecretId: 'secret-s2' });
  });

  it('at the limit with a key nobody stores, created outside the window: blocked by an unmanaged key', () => {
    const p = plan([key('AKIACUR', at(-60_000)), key('AKIAPERSON', at(3_600_000))], { current: 'AKIACUR', heldByOthers: new Map() });
    expect(p.orphans).toEqual([]);
    expect(p.blocker).toEqual({ kind: 'unmanaged', key: expect.objectContaining({ accessKeyId: 'AKIAPERSON' }) });
  });
});

describe('unlessKeyGone', () => {
  const noSuch = (reason: 'no-such-access-key' | 'no-such-user') =>
    new IamError(IamErrorCode.NoSuchEntity, { action: 'iam:DeleteAccessKey', resource: 'user/alice' }, { awsCode: 'NoSuchEntity', reason });

  it('a key that is already gone makes deleting or inactivating it again a no-op', async () => {
    await expect(unlessKeyGone(Promise.reject(noSuch('no-such-access-key')))).resolves.toBeUndefined();
  });

  it('a user that is gone is a failure, not a no-op', async () => {
    const e = noSuch('no-such-user');
    await expect(unlessKeyGone(Promise.reject(e))).rejects.toBe(e);
  });

  it('any other failure stays a failure', async () => {
    const denied = new IamError(IamErrorCode.AccessDenied, { action: 'iam:DeleteAccessKey', resource: 'user/alice' });
    await expect(unlessKeyGone(Promise.reject(denied))).rejects.toBe(denied);
    const boom = new Error('socket hang up');
    await expect(unlessKeyGone(Promise.reject(boom))).rejects.toBe(boom);
    await expect(unlessKeyGone(Promise.resolve())).resolves.toBeUndefined();
  });
});
