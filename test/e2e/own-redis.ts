import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './harness.js';

/**
 * A suite's own redis-server on a free port, so the suite may stop, flush or
 * reconfigure it: the machine's shared Redis is never touched.
 */
export class OwnRedis {
  private child: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  /** Starts one (extra `args` such as `--requirepass …`) and resolves once it accepts connections. */
  static async start(args: string[] = []): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort());
    await redis.start(args);
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts (or restarts, after `stop`) the server on the same port. */
  async start(args: string[] = []): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (c: Buffer) => {
        out += c.toString();
        if (/Ready to accept connections/.test(out)) resolve();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out.slice(-1000)}`)));
    });
  }

  async flushAll(): Promise<void> {
    const r = new Redis(this.url, { maxRetriesPerRequest: 1 });
    try {
      expect(await r.flushall()).toBe('OK');
    } finally {
      await r.quit();
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}
