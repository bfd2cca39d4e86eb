/**
 * What a media type says about its content, stated once for every layer: whether it is text (so a
 * static file of that type is sent with `; charset=utf-8`) and whether it is worth compressing
 * (response compression, precompressed static variants). RFC 9110 §8.3.1 (media types).
 */

/** Types outside text/* (and not +json/+xml) that are text in UTF-8. */
const TEXTUAL: ReadonlySet<string> = new Set([
  'application/json',
  'application/xml',
  'application/xml-dtd',
  'application/javascript',
  'application/yaml',
  'application/toml',
  'application/x-ndjson',
  'application/vnd.apple.mpegurl',
]);

/** Types that are neither text nor already compressed, and shrink well under gzip or brotli. */
const COMPRESSIBLE: ReadonlySet<string> = new Set([
  'application/wasm',
  'application/rtf',
  'application/x-tar',
  'application/vnd.ms-fontobject',
  'font/ttf',
  'font/otf',
  'font/collection',
  'image/bmp',
  'image/x-icon',
  'image/tiff',
]);

/** The media type alone (RFC 9110 §8.3.1): parameters dropped, lower case, no surrounding spaces. */
export function mediaTypeOf(type: string): string {
  const semicolon = type.indexOf(';');
  return (semicolon === -1 ? type : type.slice(0, semicolon)).trim().toLowerCase();
}

/** Whether a media type (already without parameters, lower case) is text that is served as UTF-8. */
export function isTextual(mediaType: string): boolean {
  return (
    mediaType.startsWith('text/') ||
    mediaType.endsWith('+json') ||
    mediaType.endsWith('+xml') ||
    TEXTUAL.has(mediaType)
  );
}

/**
 * Whether content of this type is worth compressing (text, JSON, JavaScript, SVG, WebAssembly,
 * uncompressed fonts and images…): compressed on the fly, or served from a precompressed
 * `.br`/`.gz` variant. Parameters such as `; charset=utf-8` are ignored.
 */
export function isCompressible(type: string): boolean {
  const mediaType = mediaTypeOf(type);
  return isTextual(mediaType) || COMPRESSIBLE.has(mediaType);
}
