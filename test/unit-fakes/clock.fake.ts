import type { Clock, Faults } from '@keyturn/rotation';

/** Time that moves only when the code sleeps (or a spec moves it): waits cost nothing and are exact. */
export class FakeClock implements Clock {
  readonly sleeps: number[] = [];
  constructor(private t = Date.parse('2030-01-01T12:00:00.000Z')) {}
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.t += ms;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** Crash points: `crashAt(name)` makes that point throw once, as a SIGKILL there would end the attempt. */
export class FakeFaults implements Faults {
  readonly passed: string[] = [];
  private armed: string | null = null;
  crashAt(name: string): void {
    this.armed = name;
  }
  point(name: string): void {
    this.passed.push(name);
    if (this.armed === name) {
      this.armed = null;
      throw new SimulatedCrash(name);
    }
  }
}

export class SimulatedCrash extends Error {
  constructor(readonly at: string) {
    super(`simulated crash at ${at}`);
    this.name = 'SimulatedCrash';
  }
}
