/**
 * A PgBouncer of the test's own, in transaction mode, in front of the
 * machine's Postgres: its own ini and userlist in a temp dir, a free port, and
 * every database routed through. Debian's pgbouncer (.ci/run installs it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PG_ADMIN_URL, freePort, sleep } from './harness.js';

function pgbouncerBinary(): string {
  for (const p of ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer']) if (existsSync(p)) return p;
  const which = spawnSync('which', ['pgbouncer'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  throw new Error('pgbouncer is not installed: run .ci/run, or apt-get install -y pgbouncer');
}

export interface PgBouncerOptions {
  /** Server connections per database and user (PgBouncer's default_pool_size). */
  poolSize?: number;
}

export class PgBouncer {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly proc: ChildProcess,
    private readonly log: () => string,
  ) {}

  static async start(opts: PgBouncerOptions = {}): Promise<PgBouncer> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'kt-pgbouncer-'));
    const server = new URL(PG_ADMIN_URL);
    const user = decodeURIComponent(server.username || 'postgres');
    writeFileSync(join(dir, 'userlist.txt'), `"${user}" ""\n`);
    writeFileSync(
      join(dir, 'pgbouncer.ini'),
      [
        '[databases]',
        // Every database name goes to the same-named database on the machine's Postgres.
        `* = host=${server.hostname} port=${server.port || 5432}`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        'unix_socket_dir =',
        'auth_type = trust',
        `auth_file = ${join(dir, 'userlist.txt')}`,
        'pool_mode = transaction',
        `default_pool_size = ${opts.poolSize ?? 10}`,
        'max_client_conn = 2000',
        'server_check_delay = 0',
        'pidfile =',
        'logfile =',
        '',
      ].join('\n'),
    );
    const args = [join(dir, 'pgbouncer.ini')];
    // PgBouncer refuses to run as root; as root, hand it to the postgres user (who must read the dir).
    if (process.getuid?.() === 0) {
      const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
      const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
      if (id.status !== 0) throw new Error('running as root, and there is no postgres user to run pgbouncer as');
      chownSync(dir, Number(id.stdout), Number(gid.stdout));
      chmodSync(dir, 0o755);
      args.unshift('-u', 'postgres');
    }
    const proc = spawn(pgbouncerBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const keep = (b: Buffer) => (out = (out + b.toString()).slice(-20_000));
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    const bouncer = new PgBouncer(port, dir, proc, () => out);
    const end = Date.now() + 20_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`pgbouncer exited (${proc.exitCode}):\n${out}`);
      const c = new pg.Client({ connectionString: bouncer.url('postgres') });
      try {
        await c.connect();
        await c.query('SELECT 1');
        return bouncer;
      } catch (e) {
        if (Date.now() > end) {
          await bouncer.stop();
          throw new Error(`pgbouncer did not accept connections: ${(e as Error).message}\n${out}`, { cause: e });
        }
        await sleep(100);
      } finally {
        await c.end().catch(() => undefined);
      }
    }
  }

  /** The URL of `database` through the pooler. */
  url(database: string): string {
    const u = new URL(PG_ADMIN_URL);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    u.pathname = `/${database}`;
    return u.toString();
  }

  output(): string {
    return this.log();
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (proc.exitCode === null && proc.signalCode === null) {
      await new Promise<void>((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      });
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
