import { CmsError } from "../errors.js";
import { malformed } from "./der.js";

/**
 * Incremental BER reader over an async sequence of chunks (pull-based): definite and indefinite lengths, primitive
 * and constructed strings, any chunk split. Memory use is bounded by the largest element read with `readElement`
 * (callers cap it) plus one input chunk.
 *
 * Call-order rules: read a header with `readHeader()`, then either descend into its content (constructed) reading
 * child headers until `atEnd(header)` returns true (which consumes the end-of-contents octets of an indefinite
 * element), or stream a string's value with `stringChunks(header)`, or skip it with `skip(header)`.
 * `readElement()` reads one whole element (header and content) into memory. Never interleave two readers on one
 * source.
 */

/** A decoded identifier and length. `end` is the absolute offset after the content (definite) or -1. */
export interface Header {
  tag: number;
  cls: number;
  constructed: boolean;
  tagNumber: number;
  /** Content length, or -1 for the indefinite form. */
  length: number;
  /** Absolute offset of the first identifier octet and of the first content octet. */
  start: number;
  contentStart: number;
  end: number;
}

/** How a source reports that its input ended too soon. */
export type EofError = (what: string) => CmsError;

export const truncated: EofError = (what) =>
  new CmsError("TRUNCATED", `The file ends too early (${what}): it was cut short in transfer or is incomplete.`, {
    hint: "Download or copy the file again and retry.",
  });

/** Pull-based byte source with look-ahead over an async iterator of chunks. */
export class ByteSource {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private done = false;
  /** Bytes consumed so far (absolute offset of the next byte). */
  position = 0;
  private capture: Buffer[] | undefined;
  private captureBytes = 0;
  private captureLimit = 0;

  /**
   * `borrowed`: the iterator's chunks are valid only until the next one is pulled (a reader that reuses its
   * buffers, see FileInput). The source then copies the few unconsumed bytes it still holds before each pull;
   * what `readSome` returned must be consumed before the source is read again (true of every caller here:
   * decryption and skipping consume synchronously).
   */
  constructor(
    private readonly it: AsyncIterator<Uint8Array>,
    readonly eof: EofError = truncated,
    private readonly borrowed = false,
  ) {}

  /** From a Readable or any (async) iterable of chunks. */
  static from(
    iterable: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    eof?: EofError,
    borrowed = false,
  ): ByteSource {
    if (Symbol.asyncIterator in iterable) return new ByteSource(iterable[Symbol.asyncIterator](), eof, borrowed);
    const sync = iterable[Symbol.iterator]();
    return new ByteSource({ next: async () => sync.next() }, eof, borrowed);
  }

  /** Pull until at least `n` bytes are buffered or the input ends; returns whether `n` are available. */
  private async fill(n: number): Promise<boolean> {
    while (this.buffered < n && !this.done) {
      // Only ever fewer than `n` bytes (a header's worth) are left here when more are needed.
      if (this.borrowed && this.chunks.length > 0) this.chunks = [Buffer.concat(this.chunks)];
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        break;
      }
      const v = r.value;
      if (v.length === 0) continue;
      const b = Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      this.chunks.push(b);
      this.buffered += b.length;
    }
    return this.buffered >= n;
  }

  /** True when no byte is left. */
  async atEof(): Promise<boolean> {
    return !(await this.fill(1));
  }

  /** Up to `n` bytes without consuming them (fewer only at the end of input). */
  async peek(n: number): Promise<Buffer> {
    await this.fill(n);
    const head = this.chunks[0];
    if (head && head.length >= n) return head.subarray(0, n);
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    if (this.chunks.length > 1) this.chunks = [all];
    return all.subarray(0, Math.min(n, all.length));
  }

  /** Exactly `n` bytes (TRUNCATED otherwise). */
  async read(n: number, what = "a structure"): Promise<Buffer> {
    if (n === 0) return Buffer.alloc(0);
    if (!(await this.fill(n))) throw this.eof(what);
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0]!;
      const take = Math.min(c.length, n - off);
      c.copy(out, off, 0, take);
      off += take;
      if (take === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(take);
    }
    this.consumed(out);
    return out;
  }

  /** Between 1 and `max` bytes, as soon as any are available (TRUNCATED at end of input). */
  async readSome(max: number, what = "content"): Promise<Buffer> {
    if (!(await this.fill(1))) throw this.eof(what);
    const c = this.chunks[0]!;
    let out: Buffer;
    if (c.length <= max) {
      out = c;
      this.chunks.shift();
    } else {
      out = c.subarray(0, max);
      this.chunks[0] = c.subarray(max);
    }
    this.consumed(out);
    return out;
  }

  private consumed(b: Buffer): void {
    this.buffered -= b.length;
    this.position += b.length;
    if (this.capture) {
      this.captureBytes += b.length;
      if (this.captureBytes > this.captureLimit) {
        this.capture = undefined;
        throw malformed(`a structure is larger than the limit of ${this.captureLimit} bytes`);
      }
      this.capture.push(Buffer.from(b));
    }
  }

  /** Start keeping a copy of everything consumed (at most `limit` bytes, else MALFORMED). */
  startCapture(limit: number): void {
    this.capture = [];
    this.captureBytes = 0;
    this.captureLimit = limit;
  }

  endCapture(): Buffer {
    const out = Buffer.concat(this.capture ?? []);
    this.capture = undefined;
    return out;
  }
}

/** BER structure reader on top of a ByteSource. */
export class BerReader {
  constructor(
    readonly src: ByteSource,
    /** Limit for elements read whole with readElement (e.g. 16 MiB). */
    readonly elementLimit = 16 * 1024 * 1024,
  ) {}

  get position(): number {
    return this.src.position;
  }

  async readHeader(what = "a structure"): Promise<Header> {
    const start = this.src.position;
    const first = (await this.src.read(1, what))[0]!;
    let tagNumber = first & 0x1f;
    if (tagNumber === 0x1f) {
      tagNumber = 0;
      for (;;) {
        const x = (await this.src.read(1, what))[0]!;
        tagNumber = tagNumber * 128 + (x & 0x7f);
        if (tagNumber > 0x1fffffff) throw malformed("a tag number is too large");
        if (!(x & 0x80)) break;
      }
    }
    const l0 = (await this.src.read(1, what))[0]!;
    let length = -1;
    if (l0 < 0x80) length = l0;
    else if (l0 > 0x80) {
      const n = l0 & 0x7f;
      if (n > 6) throw malformed("a length field is too large");
      const lb = await this.src.read(n, what);
      length = 0;
      for (const x of lb) length = length * 256 + x;
    }
    const constructed = (first & 0x20) !== 0;
    if (length < 0 && !constructed) throw malformed("a primitive element with indefinite length");
    const contentStart = this.src.position;
    return {
      tag: first,
      cls: first & 0xc0,
      constructed,
      tagNumber,
      length,
      start,
      contentStart,
      end: length >= 0 ? contentStart + length : -1,
    };
  }

  /** Read a header and require its identifier octet. */
  async expect(tag: number, what: string): Promise<Header> {
    const h = await this.readHeader(what);
    if (h.tag !== tag) throw malformed(`${what} has an unexpected type (tag 0x${h.tag.toString(16)})`);
    return h;
  }

  /**
   * True when the content of constructed `h` is exhausted. For an indefinite element this consumes the
   * end-of-contents octets when they come next. For a definite element an overrun is MALFORMED.
   */
  async atEnd(h: Header): Promise<boolean> {
    if (h.length >= 0) {
      if (this.src.position > h.end) throw malformed("an element overruns its parent");
      return this.src.position === h.end;
    }
    const p = await this.src.peek(2);
    if (p.length < 2) throw this.src.eof("an indefinite-length structure is not terminated");
    if (p[0] === 0 && p[1] === 0) {
      await this.src.read(2);
      return true;
    }
    return false;
  }

  /** Require the end of `h` now (MALFORMED if more elements follow). */
  async expectEnd(h: Header, what: string): Promise<void> {
    if (!(await this.atEnd(h))) throw malformed(`unexpected extra elements in ${what}`);
  }

  /** Peek at the next identifier octet without consuming it (undefined at end of input). */
  async peekTag(): Promise<number | undefined> {
    const p = await this.src.peek(1);
    return p.length ? p[0] : undefined;
  }

  /** Read one whole element into memory (header included), at most elementLimit bytes. */
  async readElement(what = "a structure"): Promise<Buffer> {
    this.src.startCapture(this.elementLimit);
    try {
      const h = await this.readHeader(what);
      if (h.length > this.elementLimit) {
        throw malformed(`${what} claims ${h.length} bytes, more than the limit of ${this.elementLimit}`);
      }
      await this.skipContent(h, what);
      return this.src.endCapture();
    } catch (e) {
      this.src.endCapture();
      throw e;
    }
  }

  /** Skip the content of `h` (streaming: constant memory). */
  async skipContent(h: Header, what = "a structure", depth = 0): Promise<void> {
    if (depth > 64) throw malformed("structures nested too deeply");
    if (h.length >= 0) {
      let left = h.length;
      while (left > 0) {
        const b = await this.src.readSome(left, what);
        left -= b.length;
      }
      return;
    }
    while (!(await this.atEnd(h))) {
      const c = await this.readHeader(what);
      await this.skipContent(c, what, depth + 1);
    }
  }

  /**
   * The value of a string element (OCTET STRING or an implicitly tagged one), primitive or constructed, as chunks
   * of at most `max` bytes (default 1 MiB; each is a view of an input chunk, not a copy). Constructed segments must themselves be primitive or constructed OCTET STRINGs.
   */
  async *stringChunks(h: Header, what = "content", max = 1 << 20, depth = 0): AsyncGenerator<Buffer> {
    if (depth > 32) throw malformed("string segments nested too deeply");
    if (!h.constructed) {
      let left = h.length;
      while (left > 0) {
        const b = await this.src.readSome(Math.min(left, max), what);
        left -= b.length;
        yield b;
      }
      return;
    }
    while (!(await this.atEnd(h))) {
      const c = await this.readHeader(what);
      if ((c.tag & 0xdf) !== 0x04) throw malformed(`a segment of ${what} is not an OCTET STRING`);
      yield* this.stringChunks(c, what, max, depth + 1);
    }
  }
}
