import type { Role } from '@keyturn/contracts';

export const ROLES: readonly Role[] = ['admin', 'operator', 'viewer', 'auditor'];

/** Roles nest: admin ⊃ operator ⊃ viewer; auditor stands apart, and admin has it too. */
export function impliedRoles(role: Role): Role[] {
  switch (role) {
    case 'admin':
      return ['admin', 'operator', 'viewer', 'auditor'];
    case 'operator':
      return ['operator', 'viewer'];
    case 'viewer':
      return ['viewer'];
    case 'auditor':
      return ['auditor'];
  }
}
