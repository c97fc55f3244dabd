#!/usr/bin/env node
// `npm start`: build once, then run the three apps side by side. Ctrl-C (or
// SIGTERM) stops all of them; if one dies, the others are stopped too.
import { spawn, spawnSync } from 'node:child_process';

const APPS = [
  ['api', 'dist/apps/secrets-api/src/main.js'],
  ['worker', 'dist/apps/rotation-worker/src/main.js'],
  ['scheduler', 'dist/apps/heartbeat-scheduler/src/main.js'],
];

if (!process.argv.includes('--no-build')) {
  process.stderr.write('keyturn: building…\n');
  const b = spawnSync('npx', ['nest', 'build', 'secrets-api'], { stdio: 'inherit' });
  if (b.status !== 0) process.exit(b.status ?? 1);
}

const children = new Map();
let stopping = false;
let exitCode = 0;

function prefixLines(name, stream, out) {
  let buf = '';
  stream.on('data', (chunk) => {
    buf += chunk;
    const lines = buf.split('\n');
    buf = lines.pop();
    for (const line of lines) out.write(`${name.padEnd(9)} | ${line}\n`);
  });
  stream.on('end', () => buf && out.write(`${name.padEnd(9)} | ${buf}\n`));
}

function stopAll(signal) {
  if (stopping) return;
  stopping = true;
  for (const child of children.values()) child.kill(signal);
  // A process that ignores SIGTERM is not allowed to hold the terminal forever.
  setTimeout(() => {
    for (const child of children.values()) child.kill('SIGKILL');
  }, 15_000).unref();
}

// All three may start on an empty database at once: migrations run under a
// Postgres advisory lock (libs/store), so exactly one applies them.
function start(name, file) {
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  children.set(name, child);
  prefixLines(name, child.stdout, process.stdout);
  prefixLines(name, child.stderr, process.stderr);
  child.on('exit', (code, signal) => {
    children.delete(name);
    if (!stopping) {
      process.stderr.write(`keyturn: ${name} exited (${signal ?? code}); stopping the others\n`);
      exitCode = code || 1;
      stopAll('SIGTERM');
    }
    if (children.size === 0) process.exit(exitCode);
  });
}

for (const [name, file] of APPS) start(name, file);
process.on('SIGINT', () => stopAll('SIGTERM'));
process.on('SIGTERM', () => stopAll('SIGTERM'));
