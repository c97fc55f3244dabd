import { ConfigError, StartupError, STARTUP_EXIT, endpointOf, exitOnStartupError, listenStartupError, networkReason, unreachable } from '@keyturn/config';

/** Captures what the handler would print and the code it would exit with. */
function capture() {
  const io = { out: '', code: undefined as number | undefined };
  return {
    io,
    port: {
      write: (s: string) => void (io.out += s),
      exit: (code: number): never => {
        io.code = code;
        throw new Error('exited');
      },
    },
  };
}

describe('start-up errors', () => {
  it('endpointOf gives host:port only, never a user or password, with the default port filled in', () => {
    expect(endpointOf('postgres://u:s3cret@db.example:6543/keyturn', 5432)).toBe('db.example:6543');
    expect(endpointOf('postgres://u:s3cret@db.example/keyturn', 5432)).toBe('db.example:5432');
    expect(endpointOf('redis://:s3cret@[::1]:6380', 6379)).toBe('[::1]:6380');
    expect(endpointOf('not a url', 6379)).toBe('(unparseable URL)');
  });

  it('networkReason names refusals, unknown hosts and timeouts, also inside an AggregateError', () => {
    expect(networkReason(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe('connection refused');
    expect(networkReason(Object.assign(new Error('x'), { code: 'ENOTFOUND' }))).toBe('host name not found');
    expect(networkReason(Object.assign(new Error('x'), { code: 'ETIMEDOUT' }))).toBe('no answer (timed out)');
    const agg = Object.assign(new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' }), Object.assign(new Error('b'), { code: 'ECONNREFUSED' })], ''), {});
    expect(networkReason(agg)).toBe('connection refused');
    expect(networkReason(new Error('something else'))).toBeUndefined();
  });

  it('unreachable: one line with the service, host:port, the setting and the fix; exit 69', () => {
    const e = unreachable('Postgres', 'DATABASE_URL', '127.0.0.1:5999', 'connection refused');
    expect(e).toBeInstanceOf(StartupError);
    expect(e.exitCode).toBe(STARTUP_EXIT.UNAVAILABLE);
    expect(STARTUP_EXIT.UNAVAILABLE).toBe(69);
    expect(e.message).toBe(
      'Postgres at 127.0.0.1:5999 (DATABASE_URL) is not reachable: connection refused. ' +
        'Start Postgres (for development: docker compose -f docker/compose.yml up -d postgres redis) or set DATABASE_URL to a server that runs.',
    );
  });

  it('listenStartupError: a taken port is 69, a privileged port 77, an address not of this machine 78', () => {
    const inUse = listenStartupError(Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' }), '127.0.0.1', 8080);
    expect([inUse?.exitCode, inUse?.message]).toEqual([
      69,
      'port 8080 on 127.0.0.1 (HOST, PORT) is already in use. Stop the program that listens there, or set PORT to a free port.',
    ]);
    const opsInUse = listenStartupError(Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' }), '127.0.0.1', 8081, 'WORKER_OPS_PORT');
    expect([opsInUse?.exitCode, opsInUse?.message]).toEqual([
      69,
      'port 8081 on 127.0.0.1 (HOST, WORKER_OPS_PORT) is already in use. Stop the program that listens there, or set WORKER_OPS_PORT to a free port.',
    ]);
    const denied = listenStartupError(Object.assign(new Error('listen EACCES'), { code: 'EACCES' }), '0.0.0.0', 80);
    expect([denied?.exitCode, denied?.message]).toEqual([
      77,
      'port 80 on 0.0.0.0 (HOST, PORT) needs privileges this process does not have. Set PORT to 1024 or above.',
    ]);
    const notHere = listenStartupError(Object.assign(new Error('listen EADDRNOTAVAIL'), { code: 'EADDRNOTAVAIL' }), '10.9.9.9', 8080);
    expect([notHere?.exitCode, notHere?.message]).toEqual([
      78,
      'HOST 10.9.9.9 is not an address of this machine. Set HOST to one of its addresses (127.0.0.1 for this machine only, 0.0.0.0 for every interface).',
    ]);
    expect(listenStartupError(new Error('other'), '127.0.0.1', 8080)).toBeUndefined();
  });

  it('exitOnStartupError prints one line and exits with the error’s code; the stack only at debug', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5999'), { code: 'ECONNREFUSED' });
    const err = new StartupError('Postgres at 127.0.0.1:5999 (DATABASE_URL) is not reachable: connection refused.', 69, { cause });

    const quiet = capture();
    expect(() => exitOnStartupError('rotation-worker', { debug: false }, quiet.port)(err)).toThrow('exited');
    expect(quiet.io.code).toBe(69);
    expect(quiet.io.out).toBe('keyturn: rotation-worker cannot start: Postgres at 127.0.0.1:5999 (DATABASE_URL) is not reachable: connection refused.\n');

    const loud = capture();
    expect(() => exitOnStartupError('rotation-worker', { debug: true }, loud.port)(err)).toThrow('exited');
    expect(loud.io.code).toBe(69);
    expect(loud.io.out.split('\n')[0]).toBe('keyturn: rotation-worker cannot start: Postgres at 127.0.0.1:5999 (DATABASE_URL) is not reachable: connection refused.');
    expect(loud.io.out).toMatch(/\n\s+at /);
  });

  it('exitOnStartupError: a ConfigError keeps exit 78 and its message; anything else exits 1 in one line', () => {
    const config = capture();
    expect(() => exitOnStartupError('secrets-api', { debug: false }, config.port)(new ConfigError(['PORT: expected a number']))).toThrow('exited');
    expect(config.io.code).toBe(78);
    expect(config.io.out).toBe('keyturn: Invalid configuration:\n  - PORT: expected a number\n');

    const other = capture();
    expect(() => exitOnStartupError('secrets-api', { debug: false }, other.port)(new TypeError('boom'))).toThrow('exited');
    expect(other.io.code).toBe(1);
    expect(other.io.out).toBe('keyturn: secrets-api cannot start: boom (LOG_LEVEL=debug shows the stack trace)\n');
  });
});
