import { loadConfig } from '@keyturn/config';
import { poolOptions } from './pool-check.js';

describe('poolOptions', () => {
  it('keeps the hot paths’ statements prepared per connection, except behind a transaction-mode pooler', () => {
    expect(poolOptions(loadConfig({}), 'secrets-api').namedStatements).toBe(true);
    // PgBouncer in transaction mode may run each statement on another server connection, where the name is unknown.
    expect(poolOptions(loadConfig({ KEYTURN_DB_POOLER: 'transaction' }), 'rotation-worker').namedStatements).toBe(false);
  });
});
