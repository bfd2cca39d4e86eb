import { COPY_LIMIT } from '../transport/output.ts';
import { statusLine } from './status.ts';

/** A Date line of the usual length, replaced on first use. */
const UNSET_DATE_LINE = `Date: ${new Date(0).toUTCString()}\r\n`;

/**
 * A whole `200 OK` response — status line, headers, body — built once and sent many times (a cached
 * file), so that sending it is one copy into the connection's output: no head to build, no string
 * to encode.
 *
 * The `Date` line is the last header, and when the second changes it is rewritten in place (an
 * IMF-fixdate is always 29 characters). That is safe because a response this small is always
 * copied into the output, never handed to the socket by reference: nobody else holds these bytes.
 * `body` is a view of the bytes after the head, so the body is stored once.
 */
export class PrebuiltResponse {
  /** The largest response kept whole: one that the output copies. */
  static readonly MAX_BYTES = COPY_LIMIT;

  readonly bytes: Buffer;
  readonly body: Buffer;
  private readonly dateAt: number;
  private dateLine: string;

  /**
   * `lines` are header lines built and checked by Peregrine (`Name: value\r\n` each), never
   * Content-Length, Connection or Date, which are added here. The Date is filled in when sent.
   */
  constructor(lines: string, body: Uint8Array, dateLine = UNSET_DATE_LINE) {
    const head = `${statusLine(200)}${lines}Content-Length: ${body.byteLength}\r\n`;
    const length = head.length + dateLine.length + 2 + body.byteLength;
    if (length > PrebuiltResponse.MAX_BYTES) {
      throw new RangeError(`a prebuilt response must be at most ${PrebuiltResponse.MAX_BYTES} bytes`);
    }
    this.bytes = Buffer.allocUnsafe(length);
    this.bytes.write(head, 0, 'latin1');
    this.dateAt = head.length;
    this.bytes.write(`${dateLine}\r\n`, this.dateAt, 'latin1');
    this.bytes.set(body, length - body.byteLength);
    this.body = this.bytes.subarray(length - body.byteLength);
    this.dateLine = dateLine;
  }

  /** Whether a response of this head and body size could be kept whole. */
  static fits(lines: string, bodyBytes: number): boolean {
    return lines.length + bodyBytes + 128 <= PrebuiltResponse.MAX_BYTES;
  }

  /** The response bytes, dated `dateLine` (the clock's current line); null if that can't be done in place. */
  dated(dateLine: string): Buffer | null {
    if (dateLine !== this.dateLine) {
      if (dateLine.length !== this.dateLine.length) return null;
      this.bytes.write(dateLine, this.dateAt, 'latin1');
      this.dateLine = dateLine;
    }
    return this.bytes;
  }
}
