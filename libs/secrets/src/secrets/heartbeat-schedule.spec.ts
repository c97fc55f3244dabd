import { jitteredHeartbeat, type RandomSource } from './heartbeat-schedule.js';

/** mulberry32: a small seeded generator, so the distribution checks below see the same numbers on every run. */
function seeded(seed: number): RandomSource {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe('jitteredHeartbeat (a schedule starts at a uniform point of one interval)', () => {
  const now = Date.UTC(2026, 0, 1);

  it('stays within one interval from now: the ends of the random source map to the ends of the interval', () => {
    expect(jitteredHeartbeat(now, 3600, () => 0).getTime()).toBe(now);
    expect(jitteredHeartbeat(now, 3600, () => 0.5).getTime()).toBe(now + 1_800_000);
    expect(jitteredHeartbeat(now, 3600, () => 1 - Number.EPSILON).getTime()).toBe(now + 3_599_999);
  });

  it('1M secrets created together on a 1-hour interval come due at a steady ≈280 per second, not in a burst', () => {
    const random = seeded(14);
    const perSecond = new Uint32Array(3600);
    let outside = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const offset = jitteredHeartbeat(now, 3600, random).getTime() - now;
      if (offset < 0 || offset >= 3_600_000) outside++;
      else perSecond[Math.floor(offset / 1000)]!++;
    }
    expect(outside).toBe(0);
    const counts = [...perSecond].sort((a, b) => a - b);
    // Every second of the hour gets some (none is skipped), and none more than ≈6 standard deviations
    // (√278 ≈ 16.7) above the mean of 277.8: the busiest second sees about 1.3× the average, not 1M at once.
    expect(counts[0]).toBeGreaterThan(180);
    expect(counts[counts.length - 1]).toBeLessThan(380);
    // And in coarser steps the load is flat: each tenth of the hour holds 10% ± 0.3%.
    for (let d = 0; d < 10; d++) {
      const tenth = perSecond.slice(d * 360, (d + 1) * 360).reduce((s, n) => s + n, 0);
      expect(Math.abs(tenth - 100_000)).toBeLessThan(3_000);
    }
  });
});
