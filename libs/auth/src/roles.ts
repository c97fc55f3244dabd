import type { Role } from '@keyturn/contracts';

export const ROLES: readonly Role[] = ['admin', 'operator', 'reader', 'viewer', 'auditor'];

/**
 * Roles nest: admin ⊃ operator ⊃ reader ⊃ viewer; auditor stands apart, and admin has it too.
 * A reader is what an application gets: metadata and values (audited), never a write.
 */
export function impliedRoles(role: Role): Role[] {
  switch (role) {
    case 'admin':
      return ['admin', 'operator', 'reader', 'viewer', 'auditor'];
    case 'operator':
      return ['operator', 'reader', 'viewer'];
    case 'reader':
      return ['reader', 'viewer'];
    case 'viewer':
      return ['viewer'];
    case 'auditor':
      return ['auditor'];
  }
}
