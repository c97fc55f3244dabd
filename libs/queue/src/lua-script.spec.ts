import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { LuaScript } from './redis.js';

// A Redis server of this test's own: SCRIPT FLUSH empties a server's whole script cache, which the shared one must keep.
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe('LuaScript (EVALSHA, with EVAL when the server does not know the script)', () => {
  let server: ChildProcess;
  let redis: Redis;
  // The commands themselves, named as written: ioredis turns EVALSHA into EVAL as it writes one the connection has not sent yet.
  const sent: { name: string }[] = [];
  const names = () => sent.map((c) => c.name);
  const INCR_BY = new LuaScript(`return redis.call('INCRBY', KEYS[1], ARGV[1])`);

  beforeAll(async () => {
    const port = await freePort();
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    redis = new Redis({ port, host: '127.0.0.1', retryStrategy: () => 50 });
    await redis.ping();
    const send = redis.sendCommand.bind(redis);
    redis.sendCommand = ((cmd: Parameters<typeof send>[0], stream?: Parameters<typeof send>[1]) => {
      sent.push(cmd);
      return send(cmd, stream);
    }) as typeof redis.sendCommand;
  });
  afterAll(async () => {
    redis.disconnect();
    server.kill();
  });

  it('sends the script once, then only its SHA1, and sends it again after SCRIPT FLUSH', async () => {
    sent.length = 0;
    expect(await INCR_BY.run(redis, ['n'], [2])).toBe(2);
    // The connection's first use of the script sends its text (EVAL), which caches it on the server.
    expect(names()).toEqual(['eval']);
    sent.length = 0;
    expect(await INCR_BY.run(redis, ['n'], [3])).toBe(5);
    expect(names()).toEqual(['evalsha']);
    await redis.script('FLUSH');
    sent.length = 0;
    // The server forgot it: NOSCRIPT, then the text once more, and the call still answers.
    expect(await INCR_BY.run(redis, ['n'], [4])).toBe(9);
    expect(names()).toEqual(['evalsha', 'eval']);
    sent.length = 0;
    expect(await INCR_BY.run(redis, ['n'], [1])).toBe(10);
    expect(names()).toEqual(['evalsha']);
  });

  it('keeps scripts apart by their text', async () => {
    const other = new LuaScript(`return redis.call('GET', KEYS[1])`);
    expect(await other.run(redis, ['n'], [])).toBe('10');
    expect(await INCR_BY.run(redis, ['n'], [1])).toBe(11);
  });
});
