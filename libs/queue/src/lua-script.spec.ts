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
  // The commands themselves, as sent.
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
    // The client's first use of the script sends its text (EVAL), which caches it on the server.
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

  it('answers on an auto-pipelining client when its first run shares a tick with other commands', async () => {
    // The shared connection of every app pipelines the commands of one tick. A script's first run on a
    // client must not break that pipeline: ioredis' defineCommand after a pipeline was opened left the
    // call without a method there ("pipeline[functionName] is not a function"), the pipeline's replies
    // one place off, and every later command of the client without an answer.
    const port = (redis.options as { port: number }).port;
    const piped = new Redis({ port, host: '127.0.0.1', enableAutoPipelining: true });
    try {
      await piped.set('piped', 'v');
      const first = new LuaScript(`return 'first:' .. ARGV[1]`);
      const second = new LuaScript(`return redis.call('GET', KEYS[1]) .. ':second'`);
      const get = piped.get('piped');
      const a = first.run(piped, [], ['x']);
      const b = second.run(piped, ['piped'], []);
      const get2 = piped.get('piped');
      expect(await Promise.all([get, a, b, get2])).toEqual(['v', 'first:x', 'v:second', 'v']);
      // The client still answers, and the scripts run again from their SHA1.
      expect(await Promise.all([piped.get('piped'), first.run(piped, [], ['y']), second.run(piped, ['piped'], [])])).toEqual(['v', 'first:y', 'v:second']);
    } finally {
      piped.disconnect();
    }
  });

  it('keeps scripts apart by their text', async () => {
    const other = new LuaScript(`return redis.call('GET', KEYS[1])`);
    expect(await other.run(redis, ['n'], [])).toBe('10');
    expect(await INCR_BY.run(redis, ['n'], [1])).toBe(11);
  });
});
