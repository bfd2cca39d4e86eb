/**
 * A coarse clock shared by every connection of a listener: monotonic milliseconds and the `Date`
 * header line, refreshed by the listener's single timer instead of per request.
 */
export class Clock {
  /**
   * Milliseconds on the monotonic clock, whole and at least 1, for deadlines only: a change of the
   * wall clock moves no timeout, and a number this small is stored unboxed in every connection.
   */
  now = 1;
  /** `Date: <IMF-fixdate>\r\n` (RFC 9110 §5.6.7), rebuilt at most once per second. */
  dateLine = '';
  private second = -1;

  constructor() {
    this.update();
  }

  update(): void {
    this.now = Math.floor(performance.now()) + 1;
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.second) {
      this.second = second;
      this.dateLine = `Date: ${new Date(second * 1000).toUTCString()}\r\n`;
    }
  }
}
