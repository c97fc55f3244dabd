export const ROTATION_OPTIONS = Symbol('ROTATION_OPTIONS');

export interface RotationOptions {
  /** How long a new key may take to work (IAM eventual consistency), measured from its creation. */
  verifyWindowMs: number;
  verifyInitialDelayMs: number;
  /**
   * The longest a CreateAccessKey can run after "about to create" is recorded:
   * the bounded wait for the account's pacer plus the SDK's call budget. A key
   * AWS created later than that was not made by this rotation.
   */
  createWindowMs: number;
  /** AWS partition of the account's ARNs. */
  partition: 'aws' | 'aws-cn' | 'aws-us-gov';
}

/** Injectable time, so tests can drive waits without sleeping. */
export const CLOCK = Symbol('CLOCK');
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/**
 * Crash points for the crash-safety tests: with NODE_ENV=test and
 * KEYTURN_TEST_CRASH_AT=<point>, the worker SIGKILLs itself there, once per
 * process. A no-op everywhere else.
 */
export const FAULTS = Symbol('FAULTS');
export interface Faults {
  point(name: string): void;
}
export const noFaults: Faults = { point: () => undefined };

export function faultsFromEnv(env: NodeJS.ProcessEnv = process.env): Faults {
  const at = env.KEYTURN_TEST_CRASH_AT;
  if (env.NODE_ENV !== 'test' || !at) return noFaults;
  return {
    point(name: string) {
      if (name === at) process.kill(process.pid, 'SIGKILL');
    },
  };
}
