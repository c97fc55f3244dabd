/**
 * A throwaway Redis Cluster for whole-system tests: three masters (no
 * replicas) as child processes on free ports, each with its own temp dir, and
 * helpers to kill and restart one of them. Nothing touches the machine's Redis.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import calculateSlot from 'cluster-key-slot';
import { Redis } from 'ioredis';
import { sleep } from './harness.js';

export interface ClusterNode {
  port: number;
  dir: string;
  proc: ChildProcess | null;
  /** Everything the process printed, for failure messages. */
  log: string;
}

const canListen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });

/** A port whose cluster-bus port (port + 10000) is free too; the kernel's ephemeral range would overflow 65535. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    if (taken.has(port) || taken.has(port + 10_000)) continue;
    if ((await canListen(port)) && (await canListen(port + 10_000))) {
      taken.add(port);
      taken.add(port + 10_000);
      return port;
    }
  }
  throw new Error('no free port pair for a Redis Cluster node');
}

/** The slot a key (or a hash tag such as "{keyturn}") lives in, computed as Redis and ioredis do. */
export const slotOf = (key: string): number => calculateSlot(key);

export class LocalRedisCluster {
  private constructor(readonly nodes: ClusterNode[]) {}

  static async start(size = 3): Promise<LocalRedisCluster> {
    const taken = new Set<number>();
    const nodes: ClusterNode[] = [];
    for (let i = 0; i < size; i++) {
      nodes.push({ port: await freeClusterPort(taken), dir: mkdtempSync(join(tmpdir(), 'kt-redis-cluster-')), proc: null, log: '' });
    }
    const cluster = new LocalRedisCluster(nodes);
    try {
      for (const n of nodes) await cluster.launch(n);
      const create = spawnSync(
        'redis-cli',
        ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
        { encoding: 'utf8', timeout: 60_000 },
      );
      if (create.status !== 0) throw new Error(`redis-cli --cluster create failed (${create.status}):\n${create.stdout}\n${create.stderr}`);
      await cluster.waitForState('ok');
    } catch (e) {
      await cluster.stop();
      throw e;
    }
    return cluster;
  }

  /** redis:// URLs of the given nodes (all by default). */
  urls(nodes: ClusterNode[] = this.nodes): string[] {
    return nodes.map((n) => `redis://127.0.0.1:${n.port}`);
  }

  /** The master that serves `slot`, asked of a node that is up. */
  async ownerOf(slot: number): Promise<ClusterNode> {
    const slots = (await this.ask(this.nodes.find((n) => n.proc)!, 'CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
    const range = slots.find(([from, to]) => slot >= from && slot <= to);
    if (!range) throw new Error(`no node serves slot ${slot}`);
    const node = this.nodes.find((n) => n.port === Number(range[2][1]));
    if (!node) throw new Error(`slot ${slot} is served by an unknown node ${range[2][1]}`);
    return node;
  }

  /** SIGKILL, as a crash or an OOM kill would. Without persistence the node comes back empty. */
  async kill(node: ClusterNode): Promise<void> {
    const proc = node.proc;
    if (!proc) return;
    node.proc = null;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  }

  /** Starts a killed node again on its port and dir: nodes.conf brings it back into the cluster with its slots. */
  async restart(node: ClusterNode): Promise<void> {
    await this.launch(node);
  }

  /** Waits until every running node reports `cluster_state:<state>`. */
  async waitForState(state: 'ok' | 'fail', timeoutMs = 60_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(
        this.nodes.filter((n) => n.proc).map(async (n) => /cluster_state:(\w+)/.exec(String(await this.ask(n, 'CLUSTER', 'INFO').catch((e: Error) => e.message)))?.[1]),
      );
      if (states.length && states.every((s) => s === state)) return;
      if (Date.now() > end) throw new Error(`cluster_state did not become ${state} within ${timeoutMs} ms (last: ${states.join(',')})`);
      await sleep(200);
    }
  }

  /** Every key, from every running master, matching `pattern`. */
  async keys(pattern: string): Promise<string[]> {
    const all: string[] = [];
    for (const n of this.nodes.filter((x) => x.proc)) {
      const r = new Redis({ port: n.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await r.connect();
        let cursor = '0';
        do {
          const [next, found] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          cursor = next;
          all.push(...found);
        } while (cursor !== '0');
      } finally {
        r.disconnect();
      }
    }
    return all;
  }

  async stop(): Promise<void> {
    for (const n of this.nodes) await this.kill(n);
    for (const n of this.nodes) rmSync(n.dir, { recursive: true, force: true });
  }

  private async launch(node: ClusterNode): Promise<void> {
    const proc = spawn(
      'redis-server',
      [
        '--port', String(node.port), '--bind', '127.0.0.1', '--dir', node.dir,
        '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
        // Short, so a dead master is marked failed in seconds rather than 15 s.
        '--cluster-node-timeout', '2000',
        '--save', '', '--appendonly', 'no',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    node.proc = proc;
    const keep = (b: Buffer) => (node.log = (node.log + b.toString()).slice(-20_000));
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    const end = Date.now() + 20_000;
    while ((await this.ask(node, 'PING').catch(() => null)) !== 'PONG') {
      if (proc.exitCode !== null) throw new Error(`redis-server on ${node.port} exited (${proc.exitCode}):\n${node.log}`);
      if (Date.now() > end) throw new Error(`redis-server on ${node.port} did not answer PING:\n${node.log}`);
      await sleep(100);
    }
  }

  /** One command to one node, on a short-lived connection that never retries. */
  private async ask(node: ClusterNode, ...args: string[]): Promise<unknown> {
    const r = new Redis({ port: node.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2_000 });
    r.on('error', () => undefined);
    try {
      await r.connect();
      return await r.call(args[0]!, ...args.slice(1));
    } finally {
      r.disconnect();
    }
  }
}
