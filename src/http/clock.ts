/**
 * A coarse clock shared by every connection of a listener: the time in milliseconds and the
 * `Date` header line, refreshed by the listener's single timer instead of per request.
 */
export class Clock {
  now = Date.now();
  /** `Date: <IMF-fixdate>\r\n` (RFC 9110 §5.6.7), rebuilt at most once per second. */
  dateLine = '';
  private second = -1;

  constructor() {
    this.update();
  }

  update(): void {
    this.now = Date.now();
    const second = Math.floor(this.now / 1000);
    if (second !== this.second) {
      this.second = second;
      this.dateLine = `Date: ${new Date(second * 1000).toUTCString()}\r\n`;
    }
  }
}
