#!/usr/bin/env node
// `npm run bench:rotation [-- --secrets 200 --rounds 3 --latency 0,50 --concurrency 10]`
// Rotations through Keyturn (API → queue → worker → Postgres) against a raw SDK loop making the same
// AWS calls at the same concurrency (scripts/bench-aws.mjs; docs/performance.md, "Heartbeats and rotations").
import { runBench } from './bench-aws.mjs';

await runBench('rotation');
