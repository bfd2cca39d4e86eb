import { PeregrineError } from '../errors.ts';

/**
 * A WebSocket protocol violation by the peer. Every error has a stable `code` (`ERR_PEREGRINE_WS_…`)
 * and the close code (RFC 6455 §7.4.1) the connection is closed with.
 */
export class WsError extends PeregrineError {
  readonly closeCode: number;

  constructor(code: `ERR_PEREGRINE_WS_${string}`, closeCode: number, message: string) {
    super(code, message);
    this.name = 'WsError';
    this.closeCode = closeCode;
  }
}

/** RFC 6455 §7.4.1 close codes used by Peregrine. */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  unsupportedData: 1003,
  noStatus: 1005,
  abnormal: 1006,
  invalidPayload: 1007,
  policyViolation: 1008,
  messageTooBig: 1009,
  mandatoryExtension: 1010,
  internalError: 1011,
} as const;

/** Whether a close code may appear in a Close frame on the wire (RFC 6455 §7.4, IANA registry). */
export function isValidCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014 && code !== 1004) ||
    (code >= 3000 && code <= 4999)
  );
}
