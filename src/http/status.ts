/** Reason phrases (RFC 9110 §15) and prebuilt status lines, so a response head never formats them. */
export const STATUS_REASONS: Readonly<Record<number, string>> = {
  100: 'Continue',
  101: 'Switching Protocols',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  203: 'Non-Authoritative Information',
  204: 'No Content',
  205: 'Reset Content',
  206: 'Partial Content',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  421: 'Misdirected Request',
  422: 'Unprocessable Content',
  426: 'Upgrade Required',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

const statusLines: string[] = [];
for (const code of Object.keys(STATUS_REASONS)) {
  const n = Number(code);
  statusLines[n] = `HTTP/1.1 ${n} ${STATUS_REASONS[n]}\r\n`;
}

/** The reason phrase of a status code (`Not Found`), or `fallback` for a code without one. */
export function reasonPhrase(code: number, fallback = 'Unknown'): string {
  return STATUS_REASONS[code] ?? fallback;
}

/** "HTTP/1.1 200 OK\r\n" for a status code; unknown codes in 200..999 get a generic reason. */
export function statusLine(code: number): string {
  return statusLines[code] ?? `HTTP/1.1 ${code} ${reasonPhrase(code)}\r\n`;
}

/** The plain-text body Peregrine answers an error with when the handler gives none: `404 Not Found\n`. */
export function errorBody(status: number): string {
  return `${status} ${reasonPhrase(status, 'Error')}\n`;
}

/** RFC 9110 §6.4.1: these responses never carry content. */
export function statusHasNoBody(code: number): boolean {
  return code === 204 || code === 304 || code < 200;
}
