import { noneMatchHolds } from './conditional.js';

describe('If-None-Match', () => {
  const tag = '"v2-0190a1b2-0000-7000-8000-000000000000"';
  it.each([
    [tag, true],
    [`W/${tag}`, true],
    [`"v1-old", ${tag}`, true],
    [`"v1-old",${tag} , "x"`, true],
    [[`"v1-old"`, tag], true],
    ['*', true],
    [' * ', true],
    ['"v1-old"', false],
    ['', false],
    [',', false],
    [tag.slice(1, -1), false],
    [undefined, false],
  ] as const)('%j holds for the current tag: %s', (header, expected) => {
    expect(noneMatchHolds(header as string | string[] | undefined, tag)).toBe(expected);
  });
});
