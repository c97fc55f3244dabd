import type { Actor, Role } from '@keyturn/contracts';
import { SYSTEM_ACTOR } from '@keyturn/contracts';
import { impliedRoles, mayHoldKey, type KeyGrant } from '@keyturn/auth';

const actor = (role: Role, folderScopes: string[] = []): Actor => ({ id: 'k', name: 'k', roles: impliedRoles(role), folderScopes });
const grant = (role: Role, folderScopes: string[] = []): KeyGrant => ({ role, folderScopes });

describe('which keys a caller may create, list and revoke', () => {
  it('never grants a role above the caller’s own', () => {
    expect(mayHoldKey(actor('admin'), grant('admin'))).toBe(true);
    expect(mayHoldKey(actor('admin'), grant('auditor'))).toBe(true);
    expect(mayHoldKey(actor('operator'), grant('viewer'))).toBe(true);
    expect(mayHoldKey(actor('operator'), grant('operator'))).toBe(true);
    expect(mayHoldKey(actor('operator'), grant('admin'))).toBe(false);
    expect(mayHoldKey(actor('operator'), grant('auditor'))).toBe(false);
    expect(mayHoldKey(actor('viewer'), grant('operator'))).toBe(false);
    expect(mayHoldKey(actor('operator'), grant('reader'))).toBe(true);
    expect(mayHoldKey(actor('reader'), grant('reader'))).toBe(true);
    expect(mayHoldKey(actor('reader'), grant('operator'))).toBe(false);
    expect(mayHoldKey(actor('viewer'), grant('reader'))).toBe(false);
    expect(mayHoldKey(actor('auditor'), grant('viewer'))).toBe(false);
    expect(mayHoldKey(actor('auditor'), grant('auditor'))).toBe(true);
  });

  it('lets an unscoped caller give any scopes, and a scoped caller only scopes within its own', () => {
    expect(mayHoldKey(actor('admin'), grant('viewer', ['/anything']))).toBe(true);
    const teamA = actor('admin', ['/team-a', '/shared/x']);
    expect(mayHoldKey(teamA, grant('viewer'))).toBe(false);
    expect(mayHoldKey(teamA, grant('viewer', ['/']))).toBe(false);
    expect(mayHoldKey(teamA, grant('viewer', ['/team-a']))).toBe(true);
    expect(mayHoldKey(teamA, grant('viewer', ['/team-a/sub', '/shared/x/y']))).toBe(true);
    expect(mayHoldKey(teamA, grant('viewer', ['/team-a/sub', '/team-b']))).toBe(false);
    expect(mayHoldKey(teamA, grant('viewer', ['/team-ab']))).toBe(false);
    expect(mayHoldKey(teamA, grant('viewer', ['/shared']))).toBe(false);
    // A scope of "/" is every folder: such a caller is unscoped.
    expect(mayHoldKey(actor('admin', ['/']), grant('admin'))).toBe(true);
  });

  it('leaves the system (the CLI) unlimited', () => {
    for (const role of ['admin', 'operator', 'reader', 'viewer', 'auditor'] as const) expect(mayHoldKey(SYSTEM_ACTOR('cli'), grant(role))).toBe(true);
  });
});
