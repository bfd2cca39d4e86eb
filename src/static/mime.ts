/**
 * Content types for static files, chosen by file extension (the part after the last '.' of the
 * file's name, compared case-insensitively). A name that starts with its only dot (`.bashrc`), ends
 * with a dot or has none is served as `application/octet-stream`, as is every unknown extension:
 * a browser never sniffs it into something executable.
 */

import { isTextual } from '../http/media-types.ts';

/** Whether a type is worth compressing: the rule is HTTP's, shared with response compression. */
export { isCompressible } from '../http/media-types.ts';

const UTF8 = '; charset=utf-8';

/** Extension (lower case, no dot) → media type, without parameters. */
const TYPES: ReadonlyMap<string, string> = new Map<string, string>([
  // Text and documents for the web
  ['html', 'text/html'],
  ['htm', 'text/html'],
  ['shtml', 'text/html'],
  ['xhtml', 'application/xhtml+xml'],
  ['css', 'text/css'],
  ['js', 'text/javascript'],
  ['mjs', 'text/javascript'],
  ['cjs', 'text/javascript'],
  ['json', 'application/json'],
  ['map', 'application/json'],
  ['jsonld', 'application/ld+json'],
  ['geojson', 'application/geo+json'],
  ['ndjson', 'application/x-ndjson'],
  ['webmanifest', 'application/manifest+json'],
  ['xml', 'application/xml'],
  ['xsl', 'application/xml'],
  ['xsd', 'application/xml'],
  ['dtd', 'application/xml-dtd'],
  ['atom', 'application/atom+xml'],
  ['rss', 'application/rss+xml'],
  ['txt', 'text/plain'],
  ['text', 'text/plain'],
  ['log', 'text/plain'],
  ['md', 'text/markdown'],
  ['markdown', 'text/markdown'],
  ['csv', 'text/csv'],
  ['tsv', 'text/tab-separated-values'],
  ['ics', 'text/calendar'],
  ['vcf', 'text/vcard'],
  ['vtt', 'text/vtt'],
  ['yaml', 'application/yaml'],
  ['yml', 'application/yaml'],
  ['toml', 'application/toml'],
  ['rtf', 'application/rtf'],
  ['pdf', 'application/pdf'],
  ['epub', 'application/epub+zip'],
  ['wasm', 'application/wasm'],

  // Images
  ['svg', 'image/svg+xml'],
  ['png', 'image/png'],
  ['apng', 'image/apng'],
  ['jpg', 'image/jpeg'],
  ['jpeg', 'image/jpeg'],
  ['jpe', 'image/jpeg'],
  ['jfif', 'image/jpeg'],
  ['pjpeg', 'image/jpeg'],
  ['pjp', 'image/jpeg'],
  ['gif', 'image/gif'],
  ['webp', 'image/webp'],
  ['avif', 'image/avif'],
  ['jxl', 'image/jxl'],
  ['heic', 'image/heic'],
  ['heif', 'image/heif'],
  ['ico', 'image/x-icon'],
  ['cur', 'image/x-icon'],
  ['bmp', 'image/bmp'],
  ['tif', 'image/tiff'],
  ['tiff', 'image/tiff'],

  // Fonts
  ['woff', 'font/woff'],
  ['woff2', 'font/woff2'],
  ['ttf', 'font/ttf'],
  ['otf', 'font/otf'],
  ['ttc', 'font/collection'],
  ['eot', 'application/vnd.ms-fontobject'],

  // Archives and compressed data
  ['zip', 'application/zip'],
  ['gz', 'application/gzip'],
  ['tgz', 'application/gzip'],
  ['br', 'application/x-brotli'],
  ['zst', 'application/zstd'],
  ['bz2', 'application/x-bzip2'],
  ['xz', 'application/x-xz'],
  ['tar', 'application/x-tar'],
  ['7z', 'application/x-7z-compressed'],
  ['rar', 'application/vnd.rar'],
  ['jar', 'application/java-archive'],

  // Audio
  ['mp3', 'audio/mpeg'],
  ['wav', 'audio/wav'],
  ['flac', 'audio/flac'],
  ['m4a', 'audio/mp4'],
  ['aac', 'audio/aac'],
  ['ogg', 'audio/ogg'],
  ['oga', 'audio/ogg'],
  ['opus', 'audio/ogg'],
  ['weba', 'audio/webm'],
  ['mid', 'audio/midi'],
  ['midi', 'audio/midi'],

  // Video and streaming
  ['mp4', 'video/mp4'],
  ['m4v', 'video/mp4'],
  ['webm', 'video/webm'],
  ['ogv', 'video/ogg'],
  ['mov', 'video/quicktime'],
  ['avi', 'video/x-msvideo'],
  ['mkv', 'video/x-matroska'],
  ['mpeg', 'video/mpeg'],
  ['mpg', 'video/mpeg'],
  ['3gp', 'video/3gpp'],
  ['m3u8', 'application/vnd.apple.mpegurl'],
  ['mpd', 'application/dash+xml'],

  // 3D models
  ['gltf', 'model/gltf+json'],
  ['glb', 'model/gltf-binary'],

  // Office documents
  ['doc', 'application/msword'],
  ['xls', 'application/vnd.ms-excel'],
  ['ppt', 'application/vnd.ms-powerpoint'],
  ['docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
  ['xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
  ['pptx', 'application/vnd.openxmlformats-officedocument.presentationml.presentation'],
  ['odt', 'application/vnd.oasis.opendocument.text'],
  ['ods', 'application/vnd.oasis.opendocument.spreadsheet'],
  ['odp', 'application/vnd.oasis.opendocument.presentation'],
]);

/**
 * The extension of the file a path names, lower case and without the dot, or '' when it has none.
 * Both '/' and '\' end a directory name. A leading dot does not start an extension (`.bashrc`).
 */
export function extensionOf(filePath: string): string {
  const slash = Math.max(filePath.lastIndexOf('/'), filePath.lastIndexOf('\\'));
  const dot = filePath.lastIndexOf('.');
  if (dot <= slash + 1) return '';
  return filePath.slice(dot + 1).toLowerCase();
}

/**
 * The Content-Type to send for a file: by its extension, with `; charset=utf-8` for text types;
 * `application/octet-stream` for an unknown extension or none.
 */
export function contentType(filePath: string): string {
  const type = TYPES.get(extensionOf(filePath));
  if (type === undefined) return 'application/octet-stream';
  return isTextual(type) ? type + UTF8 : type;
}

/** The whole table, extension (lower case, no dot) → media type without parameters. */
export const MIME_TYPES: ReadonlyMap<string, string> = TYPES;
