// Preloaded (`node --import ./scripts/bench-profile-hook.mjs`) into a server that `npm run bench:read -- --cpu-prof <dir>`
// profiles: SIGTTOU starts the V8 CPU profiler (not SIGUSR2: Nest's shutdown hooks take it) and SIGTTIN stops it and writes <dir>/<name>-<n>.cpuprofile, so the
// profile covers the load only (a whole-process --cpu-prof is mostly start-up: module loading, Nest wiring).
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';

const dir = process.env.BENCH_PROFILE_DIR;
const name = process.env.BENCH_PROFILE_NAME ?? String(process.pid);
const session = new Session();
session.connect();
let n = 0;
// BENCH_PROFILE_INTERVAL_US: the sampling interval (V8's default, 1,000 µs, gives few samples over a short pass).
const intervalUs = Number(process.env.BENCH_PROFILE_INTERVAL_US ?? 1000);
process.on('SIGTTOU', () =>
  void session
    .post('Profiler.enable')
    .then(() => session.post('Profiler.setSamplingInterval', { interval: intervalUs }))
    .then(() => session.post('Profiler.start')),
);
process.on('SIGTTIN', () =>
  void session.post('Profiler.stop').then(({ profile }) => {
    writeFileSync(`${dir}/${name}-${++n}.cpuprofile`, JSON.stringify(profile));
    process.send?.({ profiled: n });
  }),
);
