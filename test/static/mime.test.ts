import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { contentType, extensionOf, isCompressible, MIME_TYPES } from '../../src/static/mime.ts';

const UTF8 = '; charset=utf-8';

// [file name, expected Content-Type]
const TABLE: [string, string][] = [
  ['index.html', 'text/html' + UTF8],
  ['page.htm', 'text/html' + UTF8],
  ['style.css', 'text/css' + UTF8],
  ['app.js', 'text/javascript' + UTF8],
  ['module.mjs', 'text/javascript' + UTF8],
  ['common.cjs', 'text/javascript' + UTF8],
  ['data.json', 'application/json' + UTF8],
  ['app.js.map', 'application/json' + UTF8],
  ['feed.xml', 'application/xml' + UTF8],
  ['notes.txt', 'text/plain' + UTF8],
  ['README.md', 'text/markdown' + UTF8],
  ['table.csv', 'text/csv' + UTF8],
  ['logo.svg', 'image/svg+xml' + UTF8],
  ['a.png', 'image/png'],
  ['a.jpg', 'image/jpeg'],
  ['a.jpeg', 'image/jpeg'],
  ['a.gif', 'image/gif'],
  ['a.webp', 'image/webp'],
  ['a.avif', 'image/avif'],
  ['favicon.ico', 'image/x-icon'],
  ['a.bmp', 'image/bmp'],
  ['a.tif', 'image/tiff'],
  ['a.tiff', 'image/tiff'],
  ['f.woff', 'font/woff'],
  ['f.woff2', 'font/woff2'],
  ['f.ttf', 'font/ttf'],
  ['f.otf', 'font/otf'],
  ['f.eot', 'application/vnd.ms-fontobject'],
  ['m.wasm', 'application/wasm'],
  ['doc.pdf', 'application/pdf'],
  ['a.zip', 'application/zip'],
  ['a.gz', 'application/gzip'],
  ['a.br', 'application/x-brotli'],
  ['a.tar', 'application/x-tar'],
  ['v.mp4', 'video/mp4'],
  ['v.webm', 'video/webm'],
  ['a.ogg', 'audio/ogg'],
  ['v.ogv', 'video/ogg'],
  ['a.oga', 'audio/ogg'],
  ['a.mp3', 'audio/mpeg'],
  ['a.wav', 'audio/wav'],
  ['a.flac', 'audio/flac'],
  ['a.m4a', 'audio/mp4'],
  ['a.aac', 'audio/aac'],
  ['v.mov', 'video/quicktime'],
  ['live.m3u8', 'application/vnd.apple.mpegurl' + UTF8],
  ['site.webmanifest', 'application/manifest+json' + UTF8],
  ['cal.ics', 'text/calendar' + UTF8],
  ['doc.rtf', 'application/rtf'],
  ['conf.yaml', 'application/yaml' + UTF8],
  ['conf.yml', 'application/yaml' + UTF8],
  ['Cargo.toml', 'application/toml' + UTF8],
  ['data.jsonld', 'application/ld+json' + UTF8],
  ['book.epub', 'application/epub+zip'],
  ['page.xhtml', 'application/xhtml+xml' + UTF8],
  ['feed.atom', 'application/atom+xml' + UTF8],
  ['subs.vtt', 'text/vtt' + UTF8],
  ['model.gltf', 'model/gltf+json' + UTF8],
  ['model.glb', 'model/gltf-binary'],
  ['a.docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
];

describe('contentType', () => {
  test('the table', () => {
    for (const [name, type] of TABLE) assert.equal(contentType(name), type, name);
  });

  test('extensions are case-insensitive', () => {
    for (const [name, type] of TABLE) {
      const dot = name.lastIndexOf('.');
      const upper = name.slice(0, dot) + name.slice(dot).toUpperCase();
      assert.equal(contentType(upper), type, upper);
    }
    assert.equal(contentType('PHOTO.JPG'), 'image/jpeg');
    assert.equal(contentType('Index.Html'), 'text/html' + UTF8);
  });

  test('several dots: only the last extension counts', () => {
    assert.equal(contentType('app.min.js'), 'text/javascript' + UTF8);
    assert.equal(contentType('archive.tar.gz'), 'application/gzip');
    assert.equal(contentType('app.js.br'), 'application/x-brotli');
    assert.equal(contentType('v1.2.3.tar'), 'application/x-tar');
  });

  test('no extension, dotfiles, trailing dot, unknown → application/octet-stream', () => {
    for (const name of [
      'Makefile',
      'LICENSE',
      '.bashrc',
      '.env',
      '.gitignore',
      'dir/.htaccess',
      'file.',
      'a.unknownext',
      'a.exe',
      '',
      '.',
      '..',
      'dir.d/file',
      'dir.html/file',
      'C:\\dir.js\\file',
    ]) {
      assert.equal(contentType(name), 'application/octet-stream', JSON.stringify(name));
    }
  });

  test('directories in the path are ignored', () => {
    assert.equal(contentType('/var/www/site/index.html'), 'text/html' + UTF8);
    assert.equal(contentType('/var/www/.config/app.css'), 'text/css' + UTF8);
    assert.equal(contentType('C:\\site\\logo.PNG'), 'image/png');
    assert.equal(contentType('/home/u/.hidden.js'), 'text/javascript' + UTF8);
  });

  test('every text type carries charset=utf-8, nothing else does', () => {
    for (const [ext, type] of MIME_TYPES) {
      const full = contentType('f.' + ext);
      const textual =
        type.startsWith('text/') ||
        type.endsWith('+json') ||
        type.endsWith('+xml') ||
        /^application\/(json|xml|xml-dtd|yaml|toml|x-ndjson|vnd\.apple\.mpegurl)$/.test(type);
      assert.equal(full, textual ? type + UTF8 : type, ext);
    }
  });

  test('the table is well-formed', () => {
    for (const [ext, type] of MIME_TYPES) {
      assert.match(ext, /^[a-z0-9]+$/, ext);
      assert.match(type, /^[a-z]+\/[a-z0-9.+-]+$/, type);
    }
  });

  test('never throws and always returns a type (property)', () => {
    fc.assert(
      fc.property(fc.string(), (name) => {
        const type = contentType(name);
        assert.match(type, /^[a-z]+\/[a-z0-9.+-]+(; charset=utf-8)?$/);
        assert.equal(contentType(name.toUpperCase()), contentType(name.toLowerCase()));
      }),
    );
  });
});

describe('extensionOf', () => {
  test('cases', () => {
    assert.equal(extensionOf('a.JS'), 'js');
    assert.equal(extensionOf('archive.tar.gz'), 'gz');
    assert.equal(extensionOf('.bashrc'), '');
    assert.equal(extensionOf('.config.json'), 'json');
    assert.equal(extensionOf('dir/.bashrc'), '');
    assert.equal(extensionOf('dir.x/file'), '');
    assert.equal(extensionOf('file.'), '');
    assert.equal(extensionOf(''), '');
  });
});

describe('isCompressible', () => {
  test('text and text-like types', () => {
    for (const name of [
      'a.html',
      'a.css',
      'a.js',
      'a.json',
      'a.map',
      'a.svg',
      'a.xml',
      'a.txt',
      'a.csv',
      'a.md',
      'a.wasm',
      'a.webmanifest',
      'a.yaml',
      'a.ttf',
      'a.otf',
      'a.eot',
      'a.ico',
      'a.bmp',
      'a.ics',
    ]) {
      assert.equal(isCompressible(contentType(name)), true, name);
    }
  });

  test('already compressed types', () => {
    for (const name of [
      'a.png',
      'a.jpg',
      'a.gif',
      'a.webp',
      'a.avif',
      'a.woff',
      'a.woff2',
      'a.zip',
      'a.gz',
      'a.br',
      'a.mp4',
      'a.webm',
      'a.mp3',
      'a.pdf',
      'a.epub',
      'unknown',
    ]) {
      assert.equal(isCompressible(contentType(name)), false, name);
    }
  });

  test('parameters, case and spaces are ignored', () => {
    assert.equal(isCompressible('text/html'), true);
    assert.equal(isCompressible('TEXT/HTML; charset=ISO-8859-1'), true);
    assert.equal(isCompressible(' application/json ;charset=utf-8'), true);
    assert.equal(isCompressible('application/vnd.api+json'), true);
    assert.equal(isCompressible('application/octet-stream'), false);
    assert.equal(isCompressible(''), false);
  });
});
