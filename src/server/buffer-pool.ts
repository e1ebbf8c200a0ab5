// Reusable read buffers for response bodies.

/**
 * Buffers of one size handed out and given back. A server streaming gigabytes through
 * fresh buffers keeps V8 in back-to-back major GCs (external memory drives them);
 * recycling the buffers of finished writes allocates nothing in the steady state.
 * A buffer that may still be written by a read in flight must not be given back.
 */
export class BufferPool {
  private readonly idle: Uint8Array[] = [];

  constructor(
    readonly bufferSize: number,
    /** Idle buffers kept at most; more are left to the garbage collector. */
    private readonly maxIdle: number,
  ) {}

  take(): Uint8Array {
    return this.idle.pop() ?? new Uint8Array(Buffer.allocUnsafeSlow(this.bufferSize).buffer, 0, this.bufferSize);
  }

  give(buffer: Uint8Array): void {
    if (buffer.length === this.bufferSize && this.idle.length < this.maxIdle) this.idle.push(buffer);
  }

  get idleCount(): number {
    return this.idle.length;
  }
}
