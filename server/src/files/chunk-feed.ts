/**
 * Hands the chunks of one stream to a second consumer as they pass, with backpressure: `push` resolves once the
 * consumer has taken the chunk (at most one chunk waits), or at once when the consumer has stopped. The consumer
 * iterates the feed (for await) and sees the end when `end()` is called. Used to read an upload's CMS envelope
 * while the same bytes are hashed and written, in one pass.
 *
 * Call order: push* then end() (or fail(e) to end the consumer's iteration with `e`). When the consumer is done
 * (it returned or threw, even without closing its iterator), call stop(): later pushes are dropped. A chunk must not
 * be modified after it was pushed.
 */
export class ChunkFeed implements AsyncIterable<Uint8Array> {
  #slot: { chunk: Uint8Array; taken: () => void } | undefined;
  #ended = false;
  #error: unknown;
  #stopped = false;
  #wake: (() => void) | undefined;

  /** True once the consumer stopped reading (it finished or failed); later pushes are dropped. */
  get stopped(): boolean {
    return this.#stopped;
  }

  push(chunk: Uint8Array): Promise<void> {
    if (this.#stopped || this.#ended) return Promise.resolve();
    return new Promise<void>((taken) => {
      this.#slot = { chunk, taken };
      this.#signal();
    });
  }

  end(): void {
    this.#ended = true;
    this.#signal();
  }

  fail(error: unknown): void {
    this.#error = error ?? new Error("the stream failed");
    this.end();
  }

  #signal(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  /** The consumer is done: a waiting push and every later one resolve at once. */
  stop(): void {
    this.#stopped = true;
    const s = this.#slot;
    this.#slot = undefined;
    s?.taken();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        const s = this.#slot;
        if (s) {
          this.#slot = undefined;
          s.taken();
          yield s.chunk;
          continue;
        }
        if (this.#ended) {
          if (this.#error !== undefined) throw this.#error;
          return;
        }
        await new Promise<void>((wake) => {
          this.#wake = wake;
        });
      }
    } finally {
      this.stop();
    }
  }
}
