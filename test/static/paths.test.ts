import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import {
  findInside,
  isInside,
  type ResolvedPath,
  resolveRequestPath,
  safeJoin,
} from '../../src/static/paths.ts';

const HIDE = { hideDotfiles: true };
const SHOW = { hideDotfiles: false };

function ok(path: string, options = HIDE): { segments: string[]; trailingSlash: boolean } {
  const result = resolveRequestPath(path, options);
  assert.ok(result.ok, `${path}: ${result.ok ? '' : result.reason}`);
  return { segments: result.segments, trailingSlash: result.trailingSlash };
}

function status(path: string, options = HIDE): number {
  const result = resolveRequestPath(path, options);
  return result.ok ? 200 : result.status;
}

describe('resolveRequestPath: accepted paths', () => {
  const cases: [string, string[], boolean][] = [
    ['/', [], true],
    ['/index.html', ['index.html'], false],
    ['/a/b/c.txt', ['a', 'b', 'c.txt'], false],
    ['/a/b/', ['a', 'b'], true],
    ['//a///b/', ['a', 'b'], true],
    ['///', [], true],
    ['/a/./b', ['a', 'b'], false],
    ['/./a/.', ['a'], true],
    ['/a/%2e/b', ['a', 'b'], false],
    ['/a/%2E', ['a'], true],
    ['/caf%C3%A9.txt', ['café.txt'], false],
    ['/caf%c3%a9.txt', ['café.txt'], false],
    ['/%E6%97%A5%E6%9C%AC/%F0%9F%90%A6', ['日本', '🐦'], false],
    ['/my%20file.txt', ['my file.txt'], false],
    ['/a%2Bb', ['a+b'], false],
    ['/100%25.txt', ['100%.txt'], false],
    // Decoded once only: a double encoding is a literal name, never decoded again.
    ['/%252e%252e/x', ['%2e%2e', 'x'], false],
    ['/%252f', ['%2f'], false],
    ['/%2500', ['%00'], false],
    ['/a..b/b..', ['a..b', 'b..'], false],
    ['/a.b.c', ['a.b.c'], false],
    ['/app.min.js', ['app.min.js'], false],
    ['/.well-known/security.txt', ['.well-known', 'security.txt'], false],
    ['/.well-known/', ['.well-known'], true],
    ['/%2Ewell-known/acme-challenge/tok', ['.well-known', 'acme-challenge', 'tok'], false],
    ["/a-b_c~d!$&'()*+,;=@", ["a-b_c~d!$&'()*+,;=@"], false],
  ];
  for (const [path, segments, trailingSlash] of cases) {
    test(path, () => {
      assert.deepEqual(ok(path), { segments, trailingSlash });
    });
  }
});

describe('resolveRequestPath: hostile and malformed paths', () => {
  const cases: [string, number][] = [
    // Traversal in every spelling
    ['/../etc/passwd', 400],
    ['/..', 400],
    ['/a/../b', 400],
    ['/a/..', 400],
    ['/a/../../etc/passwd', 400],
    ['/%2e%2e/%2e%2e/etc/passwd', 400],
    ['/%2E%2e/x', 400],
    ['/.%2e/x', 400],
    ['/%2e./x', 400],
    ['/a/%2E%2E/..%2f..%2fetc', 400],
    ['/..%2f..%2fetc/passwd', 400],
    ['/..%2F..%2Fetc/passwd', 400],
    ['/a%2fb', 400],
    ['/%2f', 400],
    // Backslashes, raw or encoded
    ['/..%5c..%5cwindows', 400],
    ['/..%5C..%5Cwindows', 400],
    ['/a\\..\\b', 400],
    ['/a\\b', 400],
    ['/\\\\server\\share', 400],
    // NUL and control characters
    ['/%00', 400],
    ['/a%00.html', 400],
    ['/index.html%00.txt', 400],
    ['/a%0a', 400],
    ['/a%0D%0Ab', 400],
    ['/a%09b', 400],
    ['/a%7f', 400],
    ['/a%C2%85', 400], // U+0085, a C1 control
    ['/a\u0000b', 400],
    ['/a\nb', 400],
    ['/a b', 400],
    ['/a\u007fb', 400],
    // Invalid percent-encoding
    ['/%', 400],
    ['/a%', 400],
    ['/a%2', 400],
    ['/%zz', 400],
    ['/%2g', 400],
    ['/%%32%65', 400],
    // Invalid UTF-8 after decoding, including overlong spellings of '.' and '/'
    ['/%c0%ae%c0%ae/', 400],
    ['/%c0%ae%c0%ae/etc/passwd', 400],
    ['/%c0%af', 400],
    ['/%e0%80%ae', 400],
    ['/%c1%9c', 400],
    ['/%ff', 400],
    ['/%80', 400],
    ['/%C3', 400],
    ['/%ed%a0%80', 400], // a UTF-16 surrogate
    ['/%f4%90%80%80', 400], // beyond U+10FFFF
    // Windows drive letters, NTFS streams, names Windows trims into dots
    ['/C:', 400],
    ['/C:/Windows/win.ini', 400],
    ['/c%3a/windows', 400],
    ['/%43%3A%5Cboot.ini', 400],
    ['/file.txt::$DATA', 400],
    ['/...', 400],
    ['/..../x', 400],
    ['/.%20.', 400],
    ['/..%20', 400],
    ['/%20', 400],
    // Not an origin-form path
    ['', 400],
    ['a/b', 400],
    ['*', 400],
    ['http://host/a', 400],
    ['%2fetc/passwd', 400],
    ['/a?b', 400],
    ['/a#b', 400],
    // Non-ASCII characters must arrive percent-encoded
    ['/café', 400],
    ['/\u2025', 400], // '‥', the two-dot leader
    ['/\uff0e\uff0e/x', 400], // fullwidth full stops
    // Dotfiles are hidden with 404, not 403
    ['/.env', 404],
    ['/.git/config', 404],
    ['/.git/', 404],
    ['/a/.hidden/b', 404],
    ['/a/.htaccess', 404],
    ['/%2eenv', 404],
    ['/%2Egit/HEAD', 404],
    ['/.well-known/.secret', 404],
    ['/a/.well-known/x', 404],
    ['/.well-knownx', 404],
    // A 400 anywhere wins over a hidden dotfile
    ['/.git/%00', 400],
    ['/.env/../x', 400],
  ];
  for (const [path, expected] of cases) {
    test(JSON.stringify(path), () => {
      const result = resolveRequestPath(path, HIDE);
      assert.equal(result.ok, false);
      if (!result.ok) {
        assert.equal(result.status, expected);
        assert.ok(result.reason.length > 0);
      }
    });
  }
});

describe('resolveRequestPath: hideDotfiles false', () => {
  test('dotfiles are ordinary names', () => {
    assert.deepEqual(ok('/.env', SHOW), { segments: ['.env'], trailingSlash: false });
    assert.deepEqual(ok('/..a/b..', SHOW), { segments: ['..a', 'b..'], trailingSlash: false });
    assert.deepEqual(ok('/.git/config', SHOW), { segments: ['.git', 'config'], trailingSlash: false });
    assert.deepEqual(ok('/a/.hidden/b/', SHOW), { segments: ['a', '.hidden', 'b'], trailingSlash: true });
  });
  test('traversal is refused all the same', () => {
    for (const path of ['/..', '/.%2e', '/%2e%2e/', '/...', '/a/%2e%2e%2fb']) {
      assert.equal(status(path, SHOW), 400, path);
    }
  });
});

/** Strings that are likely to hit the interesting cases: made of slashes, dots, escapes and so on. */
const hostileString = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        '/',
        '/',
        '.',
        '..',
        '%2e',
        '%2E',
        '%2f',
        '%2F',
        '%5c',
        '\\',
        '%00',
        '%',
        '%25',
        '%c0%ae',
        '%c3%a9',
        '%e2%80%a5',
        ':',
        '%3a',
        ' ',
        '%20',
        '.well-known',
        'a',
        'etc',
        '%',
        '%0',
        '?',
        '#',
        '\u0000',
      ),
      fc.string({ maxLength: 4 }),
      fc.string({ unit: 'binary', maxLength: 3 }),
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''));

const anyPath = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  hostileString,
  hostileString.map((s) => '/' + s),
);

function checkOk(result: ResolvedPath): void {
  if (!result.ok) {
    assert.ok([400, 403, 404].includes(result.status));
    return;
  }
  for (const segment of result.segments) {
    assert.notEqual(segment, '');
    assert.notEqual(segment, '.');
    assert.notEqual(segment, '..');
    assert.ok(!segment.includes('/'), segment);
    assert.ok(!segment.includes('\\'), segment);
    assert.ok(!segment.includes('\u0000'), segment);
    assert.ok(!segment.includes(':'), segment);
  }
}

describe('resolveRequestPath and safeJoin: properties', () => {
  const root = join(tmpdir(), 'peregrine-root');

  test('never throws; ok results hold only plain names; safeJoin stays under the root', () => {
    fc.assert(
      fc.property(anyPath, fc.boolean(), (path, hideDotfiles) => {
        const result = resolveRequestPath(path, { hideDotfiles });
        checkOk(result);
        if (result.ok) {
          const joined = safeJoin(root, result.segments);
          assert.ok(joined === root || joined.startsWith(root + sep), joined);
          if (hideDotfiles) {
            for (const [i, segment] of result.segments.entries()) {
              assert.ok(!segment.startsWith('.') || (i === 0 && segment === '.well-known'), segment);
            }
          }
        }
      }),
      { numRuns: 5000 },
    );
  });

  test('an encoded name decodes back to itself', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1 }), (name) => {
        const result = resolveRequestPath('/' + encodeURIComponent(name), SHOW);
        if (result.ok && result.segments.length === 1) assert.equal(result.segments[0], name);
      }),
    );
  });

  test('decoding happens once: encoding a valid path again yields its encoded form as names', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1, maxLength: 6 }), { maxLength: 4 }), (names) => {
        const once = '/' + names.map(encodeURIComponent).join('/');
        const first = resolveRequestPath(once, SHOW);
        if (!first.ok) return;
        const twice = '/' + first.segments.map((s) => encodeURIComponent(encodeURIComponent(s))).join('/');
        const second = resolveRequestPath(twice, SHOW);
        assert.ok(second.ok);
        assert.deepEqual(second.segments, first.segments.map(encodeURIComponent));
      }),
    );
  });
});

describe('safeJoin', () => {
  const root = join(tmpdir(), 'peregrine-root');

  test('joins plain names under the root', () => {
    assert.equal(safeJoin(root, []), root);
    assert.equal(safeJoin(root, ['a', 'b.txt']), join(root, 'a', 'b.txt'));
    assert.equal(safeJoin(root + sep, ['a']), join(root, 'a'));
    assert.equal(safeJoin(join(root, 'x', '..'), ['a']), join(root, 'a'));
    assert.equal(safeJoin(sep, ['etc']), join(sep, 'etc'));
    assert.equal(safeJoin(root, ['%2e%2e']), join(root, '%2e%2e'));
  });

  test('throws on a relative root or a segment that is not a plain name', () => {
    assert.throws(() => safeJoin('relative/root', ['a']), /absolute/);
    assert.throws(() => safeJoin('', ['a']), /absolute/);
    for (const bad of ['..', '.', '', 'a/b', '../x', 'a\\b', 'a\u0000b', 'C:', '...', ' ']) {
      assert.throws(() => safeJoin(root, ['ok', bad]), /plain file name/, JSON.stringify(bad));
    }
  });
});

describe('isInside', () => {
  test('cases', () => {
    assert.equal(isInside('/srv/www', '/srv/www'), true);
    assert.equal(isInside('/srv/www', '/srv/www/a'), true);
    assert.equal(isInside('/srv/www', '/srv/www-other/a'), false);
    assert.equal(isInside('/srv/www', '/srv'), false);
    assert.equal(isInside('/', '/etc'), true);
  });
});

describe('findInside', () => {
  /** The path findInside gives for these segments, or null. */
  const inside = (root: string, ...segments: string[]): string | null =>
    findInside(root, segments)?.path ?? null;

  let base = '';
  let root = '';
  let outside = '';

  before(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'peregrine-paths-')));
    root = join(base, 'root');
    outside = join(base, 'outside');
    await mkdir(join(root, 'sub'), { recursive: true });
    await mkdir(outside);
    await writeFile(join(root, 'file.txt'), 'inside');
    await writeFile(join(root, 'sub', 'nested.txt'), 'nested');
    await writeFile(join(outside, 'secret.txt'), 'secret');
    await symlink(join(root, 'file.txt'), join(root, 'link-inside'));
    await symlink('sub/nested.txt', join(root, 'relative-link-inside'));
    await symlink(join(root, 'sub'), join(root, 'dir-link-inside'));
    await symlink(join(outside, 'secret.txt'), join(root, 'link-outside'));
    await symlink('../outside/secret.txt', join(root, 'relative-link-outside'));
    await symlink('/etc/hostname', join(root, 'link-etc'));
    await symlink(outside, join(root, 'dir-link-outside'));
    await symlink(base, join(root, 'link-to-parent'));
    await symlink(join(root, 'missing'), join(root, 'dangling'));
    await symlink(join(root, 'loop-b'), join(root, 'loop-a'));
    await symlink(join(root, 'loop-a'), join(root, 'loop-b'));
    // A sibling whose name starts with the root's name must not count as inside.
    await mkdir(root + '-evil');
    await writeFile(join(root + '-evil', 'x.txt'), 'evil');
    await symlink(join(root + '-evil', 'x.txt'), join(root, 'link-sibling'));
  });

  after(async () => {
    if (base !== '') await rm(base, { recursive: true, force: true });
  });

  test('files and symlinks that stay inside are allowed', async () => {
    assert.equal(inside(root, 'file.txt'), join(root, 'file.txt'));
    assert.equal(inside(root, 'sub', 'nested.txt'), join(root, 'sub', 'nested.txt'));
    assert.equal(inside(root, 'link-inside'), join(root, 'file.txt'));
    assert.equal(inside(root, 'relative-link-inside'), join(root, 'sub', 'nested.txt'));
    assert.equal(inside(root, 'dir-link-inside', 'nested.txt'), join(root, 'sub', 'nested.txt'));
    assert.equal(inside(root), root);
    assert.equal(inside(root, 'sub'), join(root, 'sub'));
  });

  test('symlinks that leave the root are refused', async () => {
    for (const name of ['link-outside', 'relative-link-outside', 'link-etc', 'link-sibling']) {
      assert.equal(inside(root, name), null, name);
    }
    assert.equal(inside(root, 'dir-link-outside', 'secret.txt'), null);
    assert.equal(inside(root, 'dir-link-outside'), null);
    assert.equal(inside(root, 'link-to-parent', 'outside', 'secret.txt'), null);
    // Reached through a symlink that leaves the root and one that comes back in: still inside.
    assert.equal(inside(root, 'link-to-parent', 'root', 'file.txt'), join(root, 'file.txt'));
  });

  test('missing files, dangling links and loops → null', async () => {
    assert.equal(inside(root, 'missing.txt'), null);
    assert.equal(inside(root, 'file.txt', 'below-a-file'), null);
    assert.equal(inside(root, 'dangling'), null);
    assert.equal(inside(root, 'loop-a'), null);
    assert.equal(inside(join(base, 'no-such-root'), 'file.txt'), null);
    assert.equal(inside(join(base, 'no-such-root')), null);
  });

  test('a root given through a symlink is followed on every lookup (atomic deploys)', async () => {
    const linkedRoot = join(base, 'root-link');
    await symlink(root, linkedRoot);
    assert.equal(inside(linkedRoot, 'file.txt'), join(linkedRoot, 'file.txt'));
    assert.equal(inside(linkedRoot, 'link-inside'), join(root, 'file.txt'));
    assert.equal(inside(linkedRoot, 'link-outside'), null);
    assert.equal(findInside(linkedRoot, ['file.txt'])?.stats.size, 'inside'.length);
    // Repoint the root: the next lookup sees the new release, and the old one's links are judged
    // against the new root.
    await rm(linkedRoot);
    await symlink(outside, linkedRoot);
    assert.equal(inside(linkedRoot, 'file.txt'), null);
    assert.equal(findInside(linkedRoot, ['secret.txt'])?.stats.size, 'secret'.length);
    await rm(linkedRoot);
  });

  test('stats describe the entry found: files, directories, the target of a link', () => {
    assert.equal(findInside(root, ['file.txt'])?.stats.isFile(), true);
    assert.equal(findInside(root, ['sub'])?.stats.isDirectory(), true);
    assert.equal(findInside(root, ['link-inside'])?.stats.isFile(), true);
    assert.equal(findInside(root, ['dir-link-inside'])?.stats.isDirectory(), true);
    assert.equal(findInside(root, [])?.stats.isDirectory(), true);
  });

  test('segments that are not plain names throw (a programming error, never a request)', () => {
    assert.throws(() => findInside(root, ['..', 'outside']), /plain file name/);
    assert.throws(() => findInside(root, ['a/b']), /plain file name/);
  });

  test('end to end: request path → findInside', async () => {
    const serve = async (path: string): Promise<string | number> => {
      const result = resolveRequestPath(path, HIDE);
      if (!result.ok) return result.status;
      return findInside(root, result.segments)?.path ?? 404;
    };
    assert.equal(await serve('/file.txt'), join(root, 'file.txt'));
    assert.equal(await serve('/dir-link-inside/nested.txt'), join(root, 'sub', 'nested.txt'));
    assert.equal(await serve('/link-outside'), 404);
    assert.equal(await serve('/dir-link-outside/secret.txt'), 404);
    assert.equal(await serve('/../outside/secret.txt'), 400);
    assert.equal(await serve('/%2e%2e/outside/secret.txt'), 400);
    assert.equal(await serve('/nope'), 404);
  });
});
