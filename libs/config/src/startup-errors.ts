import { ConfigError } from './config.js';

/**
 * Exit codes of a process that cannot start (sysexits.h), so scripts and
 * supervisors can tell "start the service" from "fix the settings". Node too
 * old is checked by scripts/start.mjs before anything is built.
 */
export const STARTUP_EXIT = {
  /** EX_UNAVAILABLE: Postgres or Redis unreachable, the database missing, the port taken. */
  UNAVAILABLE: 69,
  /** EX_SOFTWARE: the Node.js running this is older than package.json's engines field. */
  NODE_TOO_OLD: 70,
  /** EX_NOPERM: a user, password or privilege refused. */
  NO_PERMISSION: 77,
  /** EX_CONFIG: a setting that cannot work (the same code as an invalid environment). */
  CONFIG: 78,
} as const;

/** The command that starts Postgres and Redis for a development checkout (docker/compose.yml). */
export const DEV_SERVICES_COMMAND = 'docker compose -f docker/compose.yml up -d postgres redis';

/**
 * A start-up failure a person can fix: the message is one line naming the
 * service, the setting (host:port, never a password) and the fix.
 */
export class StartupError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StartupError';
  }
}

/** "host:port" of a service URL, with the scheme's default port filled in; never its user or password. */
export function endpointOf(url: string, defaultPort: number): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || defaultPort}`;
  } catch {
    return '(unparseable URL)';
  }
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'no answer (timed out)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
};

/**
 * Why a connection could not be made, when it is a network failure. Node
 * reports a host with several addresses as an AggregateError of each attempt.
 */
export function networkReason(e: unknown): string | undefined {
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string' && NETWORK_REASONS[code]) return NETWORK_REASONS[code];
  if (e instanceof AggregateError) {
    for (const inner of e.errors) {
      const reason = networkReason(inner);
      if (reason) return reason;
    }
  }
  return undefined;
}

/** A service that does not answer: start it, or point the setting at one that runs. */
export function unreachable(service: 'Postgres' | 'Redis', setting: string, endpoint: string, reason: string, cause?: unknown): StartupError {
  return new StartupError(
    `${service} at ${endpoint} (${setting}) is not reachable: ${reason}. ` +
      `Start ${service} (for development: ${DEV_SERVICES_COMMAND}) or set ${setting} to a server that runs.`,
    STARTUP_EXIT.UNAVAILABLE,
    { cause },
  );
}

/** A listen failing (the API's PORT, an ops port): the port taken, a privileged port, or a HOST that is not this machine's. */
export function listenStartupError(e: unknown, host: string, port: number, portSetting = 'PORT'): StartupError | undefined {
  const code = (e as { code?: unknown })?.code;
  if (code === 'EADDRINUSE') {
    return new StartupError(
      `port ${port} on ${host} (HOST, ${portSetting}) is already in use. Stop the program that listens there, or set ${portSetting} to a free port.`,
      STARTUP_EXIT.UNAVAILABLE,
      { cause: e },
    );
  }
  if (code === 'EACCES') {
    return new StartupError(
      `port ${port} on ${host} (HOST, ${portSetting}) needs privileges this process does not have. Set ${portSetting} to 1024 or above.`,
      STARTUP_EXIT.NO_PERMISSION,
      { cause: e },
    );
  }
  if (code === 'EADDRNOTAVAIL') {
    return new StartupError(
      `HOST ${host} is not an address of this machine. Set HOST to one of its addresses (127.0.0.1 for this machine only, 0.0.0.0 for every interface).`,
      STARTUP_EXIT.CONFIG,
      { cause: e },
    );
  }
  return undefined;
}

/** Stack traces are for whoever debugs Keyturn itself: LOG_LEVEL=debug or trace. */
export function showsStacks(logLevel: string): boolean {
  return logLevel === 'debug' || logLevel === 'trace';
}

export interface ExitPort {
  write(text: string): void;
  exit(code: number): never;
}

const processPort: ExitPort = {
  write: (text) => void process.stderr.write(text),
  exit: (code) => process.exit(code),
};

/**
 * The last word of an app that cannot start: one line on stderr and a distinct
 * exit code. A stack trace helps only the people who debug Keyturn itself, so
 * it appears at LOG_LEVEL=debug only. scripts/start.mjs repeats the line.
 */
export function exitOnStartupError(app: string, opts: { debug: boolean }, port: ExitPort = processPort): (e: unknown) => never {
  return (e: unknown): never => {
    // As exitConfigError words it, so every invalid setting reads the same wherever it is found.
    if (e instanceof ConfigError) {
      port.write(`keyturn: ${e.message}\n`);
      return port.exit(STARTUP_EXIT.CONFIG);
    }
    const known = e instanceof StartupError;
    const message = e instanceof Error ? e.message : String(e);
    const hint = known || opts.debug ? '' : ' (LOG_LEVEL=debug shows the stack trace)';
    port.write(`keyturn: ${app} cannot start: ${message}${hint}\n`);
    if (opts.debug) {
      const cause = (e as { cause?: unknown })?.cause;
      const stack = (cause instanceof Error ? cause.stack : undefined) ?? (e instanceof Error ? e.stack : undefined);
      if (stack) port.write(`${stack}\n`);
    }
    return port.exit(known ? e.exitCode : 1);
  };
}
