import { isIamPath } from './validation.js';

describe('IAM paths (discovery path prefixes, the one check for config, API and use cases)', () => {
  it.each(['/', '/eng/', '/eng/team/', '/a-b_c.d@e!~/', `/${'a'.repeat(510)}/`])('%s is an IAM path', (p) => {
    expect(isIamPath(p)).toBe(true);
  });

  it.each([
    ['no leading slash', 'eng/'],
    ['no trailing slash', '/eng'],
    ['empty', ''],
    ['nothing between two slashes', '//'],
    ['a space', '/e ng/'],
    ['a non-ASCII character', '/éng/'],
    ['longer than 512 characters', `/${'a'.repeat(511)}/`],
    ['not a string', 42],
    ['undefined', undefined],
  ])('is not one with %s', (_what, p) => {
    expect(isIamPath(p)).toBe(false);
  });
});
