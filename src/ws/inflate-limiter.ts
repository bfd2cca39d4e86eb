/**
 * A worker-wide bound on permessage-deflate decompression, so that many clients sending compressed
 * messages that inflate far past the message limit (zip bombs) cost memory set by configuration,
 * not by the number of attackers.
 *
 * - At most `concurrency` messages inflate at once; the others wait for a slot in arrival order.
 * - The inflated bytes held by the running inflations count against `maxBytes`. Past it, every
 *   running inflation except the oldest pauses until bytes are released. The oldest never pauses,
 *   so it always finishes (its own message limit ends it at worst) and nothing can deadlock: the
 *   peak is about `maxBytes` plus one message limit, plus what zlib buffers while it stops.
 */
export class InflateLimiter {
  readonly concurrency: number;
  readonly maxBytes: number;
  /** Granted slots, oldest first. */
  private readonly running: InflateSlot[] = [];
  private readonly waiting: InflateSlot[] = [];
  private heldBytes = 0;

  constructor(concurrency: number, maxBytes: number) {
    if (!(Number.isSafeInteger(concurrency) && concurrency >= 1)) {
      throw new RangeError(`concurrency must be a positive integer, got ${String(concurrency)}`);
    }
    if (!(Number.isSafeInteger(maxBytes) && maxBytes >= 1)) {
      throw new RangeError(`maxBytes must be a positive integer, got ${String(maxBytes)}`);
    }
    this.concurrency = concurrency;
    this.maxBytes = maxBytes;
  }

  /** Inflated bytes held by running inflations. */
  get bytes(): number {
    return this.heldBytes;
  }

  /** Inflations running now. */
  get active(): number {
    return this.running.length;
  }

  /** Inflations waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Asks for a slot: `hooks.start` runs once it is granted (at once when one is free). `pause` and
   * `resume` are called as the byte bound requires. The slot must be released exactly when the
   * inflation ends (or is abandoned, granted or not).
   */
  request(hooks: SlotHooks): InflateSlot {
    const slot = new InflateSlot(this, hooks);
    if (this.running.length < this.concurrency) this.grant(slot);
    else this.waiting.push(slot);
    return slot;
  }

  /** @internal */
  counted(slot: InflateSlot, bytes: number): void {
    this.heldBytes += bytes;
    if (this.heldBytes > this.maxBytes && this.running[0] !== slot) slot.setPaused(true);
  }

  /** @internal */
  released(slot: InflateSlot, bytes: number): void {
    this.heldBytes -= bytes;
    const at = this.running.indexOf(slot);
    if (at !== -1) this.running.splice(at, 1);
    else {
      const queuedAt = this.waiting.indexOf(slot);
      if (queuedAt !== -1) this.waiting.splice(queuedAt, 1);
    }
    while (this.running.length < this.concurrency && this.waiting.length > 0)
      this.grant(this.waiting.shift()!);
    this.resumeWhatFits();
  }

  private grant(slot: InflateSlot): void {
    this.running.push(slot);
    slot.granted();
  }

  /** Under the bound every paused inflation goes on; over it, only the oldest. */
  private resumeWhatFits(): void {
    if (this.heldBytes <= this.maxBytes) {
      for (const slot of this.running) slot.setPaused(false);
    } else {
      this.running[0]?.setPaused(false);
    }
  }
}

export interface SlotHooks {
  start(): void;
  pause(): void;
  resume(): void;
}

/** One message's claim on the limiter. */
export class InflateSlot {
  private readonly limiter: InflateLimiter;
  private readonly hooks: SlotHooks;
  private state: 'waiting' | 'running' | 'released' = 'waiting';
  private paused = false;
  private bytes = 0;

  constructor(limiter: InflateLimiter, hooks: SlotHooks) {
    this.limiter = limiter;
    this.hooks = hooks;
  }

  /** Counts `bytes` more inflated output held for this message; may pause it (see InflateLimiter). */
  add(bytes: number): void {
    if (this.state !== 'running') return;
    this.bytes += bytes;
    this.limiter.counted(this, bytes);
  }

  /** The inflation ended or was abandoned: frees the slot and its bytes. Idempotent. */
  release(): void {
    if (this.state === 'released') return;
    this.state = 'released';
    this.paused = false;
    const bytes = this.bytes;
    this.bytes = 0;
    this.limiter.released(this, bytes);
  }

  /** @internal */
  granted(): void {
    this.state = 'running';
    this.hooks.start();
  }

  /** @internal */
  setPaused(paused: boolean): void {
    if (this.state !== 'running' || paused === this.paused) return;
    this.paused = paused;
    if (paused) this.hooks.pause();
    else this.hooks.resume();
  }
}
