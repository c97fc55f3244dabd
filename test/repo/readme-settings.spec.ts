import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { envSchema, numericSettings } from '@keyturn/config';
import { SETTINGS, SETTING_NAMES, type SettingSpec } from '@keyturn/contracts';

// README's configuration table is what operators read; the schema is what the code enforces.

const README = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');

/** The cells of the configuration table's row for `name` (a row of its own, first cell `NAME`). */
function row(name: string): string[] | undefined {
  const lines = README.split('\n').filter((l) => l.startsWith(`| \`${name}\` |`));
  if (lines.length > 1) throw new Error(`README has ${lines.length} rows for ${name}`);
  return lines[0]?.split(' | ').map((c) => c.replace(/^\| |\s*\|$/g, '').trim());
}

describe('README configuration table', () => {
  it('has a row for every environment variable Keyturn reads', () => {
    expect(Object.keys(envSchema.shape).filter((name) => !row(name))).toEqual([]);
  });

  it.each(numericSettings().map((s) => [s.name, s] as const))('%s: its default and its range are those of the schema', (name, s) => {
    const [, def, meaning] = row(name)!;
    if (s.default !== undefined) expect(def).toBe(`\`${s.default}\``);
    const range = s.minExclusive ? `(more than ${s.min}, up to ${s.max}` : `(${s.min}–${s.max}`;
    expect([name, meaning]).toEqual([name, expect.stringContaining(range)]);
  });
});

describe('README settings table', () => {
  it.each(SETTING_NAMES.map((name) => [name, SETTINGS[name] as SettingSpec] as const))('%s: a row with the schema\'s default and range', (name, spec) => {
    const cells = row(name);
    expect(cells).toBeDefined();
    const [, def, meaning] = cells!;
    expect(def).toBe(`\`${JSON.stringify(spec.default)}\``);
    if (spec.kind === 'integer') expect(meaning).toContain(`${spec.min}–${spec.max}`);
    if (spec.kind === 'string' && spec.format !== 'cron') expect(meaning).toContain(`at most ${spec.maxLength}`);
  });
});
