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

/**
 * Cuts a byte stream into OCTET STRING segments of exactly `chunkSize` bytes (the last one shorter), written as
 * `04 len data` through `emit`. Holds at most one chunk. Call `flush()` once at the end.
 */
export class SegmentWriter {
  private buf: Buffer;
  private used = 0;

  constructor(
    private readonly emit: (b: Buffer) => void,
    readonly chunkSize = 65536,
  ) {
    this.buf = Buffer.allocUnsafe(chunkSize);
  }

  write(data: Uint8Array): void {
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
      const take = Math.min(this.chunkSize - this.used, data.length - off);
      this.buf.set(data.subarray(off, off + take), this.used);
      this.used += take;
      off += take;
      if (this.used === this.chunkSize) this.flush();
    }
  }

  flush(): void {
    if (this.used === 0) return;
    const seg = this.buf.subarray(0, this.used);
    this.emit(definiteHeader(0x04, seg.length));
    this.emit(seg);
    // `emit` consumers copy or consume synchronously (cipher.update, push of a fresh buffer): start a new buffer.
    this.buf = Buffer.allocUnsafe(this.chunkSize);
    this.used = 0;
  }
}
