import { encodeLength } from "./der.js";

/**
 * The streaming half of the BER writer: headers of indefinite-length constructed elements, their end-of-contents
 * octets, and primitive OCTET STRING segments. Everything along the streaming path is written with these; small
 * structures in between are DER from ./der.ts.
 */

/** Identifier octet + 0x80 (indefinite length). The caller must later write EOC for it. */
export function openIndefinite(tag: number): Buffer {
  return Buffer.from([tag, 0x80]);
}

/** End-of-contents octets closing one indefinite-length element. */
export const EOC = Buffer.from([0x00, 0x00]);

/** Header of a primitive element with a known length (e.g. one OCTET STRING segment of a chunked value). */
export function definiteHeader(tag: number, length: number): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(length)]);
}

/** Default size of the OCTET STRING segments of chunked content (1 MiB). */
export const SEGMENT_BYTES = 1 << 20;

/** In retain mode, pieces shorter than this are copied together instead of kept (16 KiB). */
export const STAGE_BYTES = 16 * 1024;

/**
 * Cuts a byte stream into OCTET STRING segments of exactly `chunkSize` bytes (the last one shorter), written as
 * `04 len` headers followed by the segment's bytes through `emit` (a segment may come as several buffers). Call
 * `flush()` once at the end.
 *
 * By default the writer never keeps the caller's buffers past `write()`: a chunk-aligned run of input is emitted
 * as is (the consumer must copy or consume it synchronously) and the rest is copied into a buffer of one segment.
 * With `retain`, the caller hands its buffers over (it must not modify them afterwards, as with the fresh output
 * of a cipher): the writer keeps references to at most one segment's worth of them and emits subarrays; only
 * pieces under STAGE_BYTES are copied (gathered into a small buffer, so tiny writes never pile up as thousands of
 * references).
 */
export class SegmentWriter {
  private buf: Buffer | undefined;
  private used = 0;
  private readonly held: Buffer[] = [];
  private stage: Buffer | undefined;
  private staged = 0;

  constructor(
    private readonly emit: (b: Buffer) => void,
    readonly chunkSize = SEGMENT_BYTES,
    private readonly retain = false,
  ) {}

  write(data: Uint8Array): void {
    if (data.length === 0) return;
    if (this.retain) {
      if (data.length < STAGE_BYTES) {
        let off = 0;
        while (off < data.length) {
          this.stage ??= Buffer.allocUnsafe(STAGE_BYTES);
          const take = Math.min(STAGE_BYTES - this.staged, data.length - off);
          this.stage.set(data.subarray(off, off + take), this.staged);
          this.staged += take;
          off += take;
          if (this.staged === STAGE_BYTES) this.unstage();
        }
      } else {
        this.unstage();
        this.held.push(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      }
      this.used += data.length;
      while (this.used >= this.chunkSize) this.emitHeld(this.chunkSize);
      return;
    }
    let off = 0;
    while (off < data.length) {
      if (this.used === 0 && data.length - off >= this.chunkSize) {
        // Whole chunks straight from the input, without copying.
        const seg = data.subarray(off, off + this.chunkSize);
        this.emit(definiteHeader(0x04, seg.length));
        this.emit(Buffer.from(seg.buffer, seg.byteOffset, seg.byteLength));
        off += this.chunkSize;
        continue;
      }
      this.buf ??= Buffer.allocUnsafe(this.chunkSize);
      const take = Math.min(this.chunkSize - this.used, data.length - off);
      this.buf.set(data.subarray(off, off + take), this.used);
      this.used += take;
      off += take;
      if (this.used === this.chunkSize) this.flush();
    }
  }

  flush(): void {
    if (this.used === 0) return;
    if (this.retain) {
      this.emitHeld(this.used);
      return;
    }
    const seg = this.buf!.subarray(0, this.used);
    this.emit(definiteHeader(0x04, seg.length));
    this.emit(seg);
    // `emit` consumers may keep what they get (a stream's push): the next segment gets a new buffer.
    this.buf = undefined;
    this.used = 0;
  }

  /** Move the staged small pieces to the held list (a new stage is allocated when needed: emitted views stay valid). */
  private unstage(): void {
    if (this.staged === 0) return;
    this.held.push(this.stage!.subarray(0, this.staged));
    this.stage = undefined;
    this.staged = 0;
  }

  /** Emit one segment of `n` bytes from the held and staged buffers (retain mode). */
  private emitHeld(n: number): void {
    this.unstage();
    this.emit(definiteHeader(0x04, n));
    let left = n;
    while (left > 0) {
      const b = this.held[0]!;
      if (b.length <= left) {
        this.emit(b);
        this.held.shift();
        left -= b.length;
      } else {
        this.emit(b.subarray(0, left));
        this.held[0] = b.subarray(left);
        left = 0;
      }
    }
    this.used -= n;
  }
}
