import { CmsError } from "../errors.js";
import type { BerLimits } from "@sealpost/pki";
import { type Node, decode, malformed } from "./der.js";
import { LIMITS } from "../limits.js";
import { ElementSkipper, SegmentScanner } from "./segments.js";

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

/** Longest BER header: identifier (1 + 5 tag-number octets) and length (1 + 6 octets). */
const HEADER_MAX = 13;

/** Work done between two turns of the event loop by one source, at most (milliseconds). */
export const SLICE_MS = 10;

/**
 * Pull-based byte source with look-ahead over an async iterator of chunks. It also keeps parsing from holding the
 * event loop: when SLICE_MS have passed since its last turn, the next pull waits for one (`setImmediate`), so a
 * server that parses uploads keeps answering other requests.
 */
export class ByteSource {
  /** Unconsumed input: chunks[0] from headOff on, then the others whole. */
  private chunks: Buffer[] = [];
  private headOff = 0;
  private buffered = 0;
  private done = false;
  /** Bytes consumed so far (absolute offset of the next byte). */
  position = 0;
  private capture: Buffer[] | undefined;
  private captureBytes = 0;
  private captureLimit = 0;
  private sliceStart = performance.now();

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

  /** Waits for a turn of the event loop when this source has worked for SLICE_MS since the last one. */
  async pause(): Promise<void> {
    if (performance.now() - this.sliceStart < SLICE_MS) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.sliceStart = performance.now();
  }

  /** Pull until at least `n` bytes are buffered or the input ends; returns whether `n` are available. */
  private async fill(n: number): Promise<boolean> {
    while (this.buffered < n && !this.done) {
      // Only ever fewer than `n` bytes (a header's worth) are left here when more are needed.
      if (this.borrowed && this.chunks.length > 0) this.compact();
      await this.pause();
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

  /** Copies the unconsumed bytes into one new chunk (before a borrowed chunk is given back). */
  private compact(): void {
    const rest = this.chunks.map((c, i) => (i === 0 ? c.subarray(this.headOff) : c));
    this.chunks = [Buffer.concat(rest)];
    this.headOff = 0;
  }

  /** True when no byte is left. */
  async atEof(): Promise<boolean> {
    return !(await this.fill(1));
  }

  /**
   * Up to `n` bytes without consuming them (fewer only at the end of input), as one view. When they straddle
   * chunks, only the missing bytes are moved into the head chunk (`n` is small: a header's worth).
   */
  async peek(n: number): Promise<Buffer> {
    await this.fill(n);
    let head = this.chunks[0];
    if (!head) return Buffer.alloc(0);
    if (head.length - this.headOff < n && this.chunks.length > 1) {
      const parts = [head.subarray(this.headOff)];
      let have = head.length - this.headOff;
      let i = 1;
      while (have < n && i < this.chunks.length) {
        const c = this.chunks[i]!;
        const take = Math.min(c.length, n - have);
        parts.push(c.subarray(0, take));
        have += take;
        if (take === c.length) i++;
        else this.chunks[i] = c.subarray(take);
      }
      head = Buffer.concat(parts);
      this.chunks.splice(0, i, head);
      this.headOff = 0;
    }
    return head.subarray(this.headOff, this.headOff + Math.min(n, head.length - this.headOff));
  }

  /** Exactly `n` bytes, copied (TRUNCATED otherwise). */
  async read(n: number, what = "a structure"): Promise<Buffer> {
    if (n === 0) return Buffer.alloc(0);
    if (!(await this.fill(n))) throw this.eof(what);
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0]!;
      const take = Math.min(c.length - this.headOff, n - off);
      c.copy(out, off, this.headOff, this.headOff + take);
      off += take;
      this.advance(take);
    }
    return out;
  }

  /** Between 1 and `max` bytes, as soon as any are available, as a view (TRUNCATED at end of input). */
  async readSome(max: number, what = "content"): Promise<Buffer> {
    if (!(await this.fill(1))) throw this.eof(what);
    const c = this.chunks[0]!;
    const take = Math.min(c.length - this.headOff, max);
    const out = c.subarray(this.headOff, this.headOff + take);
    this.advance(take);
    return out;
  }

  /**
   * The head chunk and the offset of its first unconsumed byte (undefined when nothing is buffered), for parsers
   * that consume in place with `advance`.
   */
  head(): { chunk: Buffer; offset: number } | undefined {
    const chunk = this.chunks[0];
    return chunk ? { chunk, offset: this.headOff } : undefined;
  }

  /** Consumes `n` buffered bytes of the head chunk (n <= what `head()` shows). */
  advance(n: number): void {
    if (n === 0) return;
    const c = this.chunks[0]!;
    if (this.capture) {
      this.captureBytes += n;
      if (this.captureBytes > this.captureLimit) {
        this.capture = undefined;
        throw malformed(`a structure is larger than the limit of ${this.captureLimit} bytes`);
      }
      this.capture.push(Buffer.from(c.subarray(this.headOff, this.headOff + n)));
    }
    this.headOff += n;
    this.buffered -= n;
    this.position += n;
    if (this.headOff === c.length) {
      this.chunks.shift();
      this.headOff = 0;
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
  /** Structure headers read so far (string segments are not counted). */
  nodes = 0;

  constructor(
    readonly src: ByteSource,
    /** Limit for elements read whole with readElement (e.g. 16 MiB). */
    readonly elementLimit = 16 * 1024 * 1024,
    /** Node budget: most structure headers read, and elements decoded by callers (`charge`), per reader. */
    readonly maxNodes = LIMITS.nodes,
  ) {}

  get position(): number {
    return this.src.position;
  }

  /** Counts `n` nodes against the budget (MALFORMED beyond it). */
  charge(n: number): void {
    this.nodes += n;
    if (this.nodes > this.maxNodes) {
      throw malformed(`the file has more than ${this.maxNodes} structures, more than any sealed file holds`);
    }
  }

  async readHeader(what = "a structure"): Promise<Header> {
    this.charge(1);
    if ((this.nodes & 0x3ff) === 0) await this.src.pause();
    const start = this.src.position;
    const p = await this.src.peek(HEADER_MAX);
    if (p.length < 2) throw this.src.eof(what);
    const first = p[0]!;
    let i = 1;
    let tagNumber = first & 0x1f;
    if (tagNumber === 0x1f) {
      tagNumber = 0;
      for (;;) {
        if (i >= p.length) throw this.src.eof(what);
        const x = p[i++]!;
        tagNumber = tagNumber * 128 + (x & 0x7f);
        if (tagNumber > 0x1fffffff) throw malformed("a tag number is too large");
        if (!(x & 0x80)) break;
      }
    }
    if (i >= p.length) throw this.src.eof(what);
    const l0 = p[i++]!;
    let length = -1;
    if (l0 < 0x80) length = l0;
    else if (l0 > 0x80) {
      const n = l0 & 0x7f;
      if (n > 6) throw malformed("a length field is too large");
      if (i + n > p.length) throw this.src.eof(what);
      length = 0;
      for (let k = 0; k < n; k++) length = length * 256 + p[i++]!;
    }
    const constructed = (first & 0x20) !== 0;
    if (length < 0 && !constructed) throw malformed("a primitive element with indefinite length");
    this.src.advance(i);
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
      this.src.advance(2);
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

  /** Read one whole element into memory (header included), at most `limit` bytes (default elementLimit). */
  async readElement(what = "a structure", limit = this.elementLimit): Promise<Buffer> {
    limit = Math.min(limit, this.elementLimit);
    this.src.startCapture(limit);
    try {
      const h = await this.readHeader(what);
      if (h.length > limit) {
        throw malformed(`${what} claims ${h.length} bytes, more than the limit of ${limit}`);
      }
      await this.skipContent(h, what);
      return this.src.endCapture();
    } catch (e) {
      this.src.endCapture();
      throw e;
    }
  }

  /**
   * Read one whole element and decode it within `limits` (its size is checked against limits.maxBytes before it
   * is buffered), charging its elements to the node budget. MALFORMED names `what` when a limit is exceeded.
   */
  async readDecoded(what: string, limits: BerLimits): Promise<Node> {
    const stats = { nodes: 0 };
    const node = decode(await this.readElement(what, limits.maxBytes), limits, what, stats);
    this.charge(stats.nodes);
    return node;
  }

  /** Skip the content of `h` (streaming: constant memory). */
  async skipContent(h: Header, what = "a structure"): Promise<void> {
    const src = this.src;
    if (h.length >= 0) {
      let left = h.length;
      while (left > 0) {
        const b = await src.readSome(left, what);
        left -= b.length;
      }
      return;
    }
    // Indefinite: the elements inside are walked in place (their headers count against the node budget).
    const skip = new ElementSkipper(what);
    for (;;) {
      const head = src.head();
      let need = 1;
      if (head) {
        const before = skip.nodes;
        // The skipper stops one header past the budget left, so that charging it throws.
        const pos = skip.scan(head.chunk, head.offset, before + this.maxNodes - this.nodes);
        src.advance(pos - head.offset);
        this.charge(skip.nodes - before);
        need = skip.need;
      }
      if (skip.done) return;
      await src.pause();
      const p = await src.peek(need);
      if (p.length < need) throw src.eof(what);
    }
  }

  /**
   * The value of a string element (OCTET STRING or an implicitly tagged one), primitive or constructed, as chunks
   * of at most `max` bytes (default 1 MiB). Segments of 4 KiB and more come as views of the input; shorter ones
   * are copied together into 64 KiB chunks. Constructed segments must themselves be primitive or constructed
   * OCTET STRINGs, nested at most 32 deep.
   *
   * Segment headers are parsed in one tight loop over each input chunk (no allocation, promise or callback per
   * segment), so the cost is linear in the input whatever the segment sizes: even 2-byte segments go through at
   * hundreds of MB/s.
   */
  async *stringChunks(h: Header, what = "content", max = 1 << 20): AsyncGenerator<Buffer> {
    const src = this.src;
    if (!h.constructed) {
      let left = h.length;
      while (left > 0) {
        const b = await src.readSome(Math.min(left, max), what);
        left -= b.length;
        yield b;
      }
      return;
    }
    const scan = new SegmentScanner(h.end, what, max);
    for (;;) {
      const head = src.head();
      let need = 1;
      if (head) {
        const pos = scan.scan(head.chunk, head.offset, src.position - head.offset);
        src.advance(pos - head.offset);
        need = scan.need;
      }
      for (const b of scan.take()) yield b;
      if (scan.done) return;
      // Views handed out above are consumed: the source may now pull (and, when borrowed, reuse) its chunk.
      await src.pause();
      const p = await src.peek(need);
      if (p.length < need) throw src.eof(what);
    }
  }
}
