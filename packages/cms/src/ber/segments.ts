import { malformed } from "./der.js";

/** Most segments of a constructed string nested in one another. */
const SEGMENT_DEPTH = 32;
/** Segments at least this long are handed on as views of the input; shorter ones are copied together. */
const VIEW_MIN = 4096;
/** Size of the buffers short segments are copied into. */
const GATHER_BYTES = 64 * 1024;

/**
 * The segments of a constructed BER string (OCTET STRING segments, primitive or constructed, definite or
 * indefinite), parsed in place over the input chunks by one tight loop: no allocation, promise or callback per
 * segment, so the cost is linear in the input whatever the segment sizes.
 *
 * Use: `scan(chunk, offset, base)` consumes what it can of `chunk` from `offset` (`base` is the absolute offset of
 * chunk[0]) and returns the offset where it stopped; then hand on `take()` (the value, as views of the input for
 * segments of 4 KiB and more, and copied together into 64 KiB buffers for shorter ones), and go on with the next
 * input once `need` contiguous bytes are available, until `done`.
 */
export class SegmentScanner {
  /** Open constructed segments, innermost last: the absolute end of a definite one, -1 for an indefinite one. */
  private readonly ends: number[];
  /** Content bytes of the current primitive segment still to come. */
  private left = 0;
  private gather: Buffer | undefined;
  private gathered = 0;
  private out: Buffer[] = [];
  /** Contiguous input bytes needed before scanning can go on (a header straddling two chunks). */
  need = 1;
  /** True after the end of the outer string. */
  done = false;

  /**
   * @param end absolute end of the outer constructed string, or -1 when it has the indefinite length.
   * @param what names the string in errors.
   * @param max largest chunk handed on.
   */
  constructor(
    end: number,
    private readonly what: string,
    private readonly max: number,
  ) {
    this.ends = [end];
  }

  /** Value chunks ready to hand on (each at most `max` bytes); at the end, also the last gathered bytes. */
  take(): Buffer[] {
    if (this.done && this.gathered > 0) {
      this.out.push(this.gather!.subarray(0, this.gathered));
      this.gather = undefined;
      this.gathered = 0;
    }
    const out = this.out;
    this.out = [];
    return out;
  }

  /** Scans `chunk` from `pos`; returns where it stopped (chunk end, a header cut by it, a full output, or the end). */
  scan(chunk: Buffer, pos: number, base: number): number {
    const ends = this.ends;
    const stop = chunk.length;
    this.need = 1;
    while (pos < stop) {
      if (this.left > 0) {
        const n = Math.min(this.left, stop - pos, this.max);
        this.emit(chunk, pos, n);
        pos += n;
        this.left -= n;
        if (this.out.length > 0) return pos;
        continue;
      }
      const top = ends[ends.length - 1]!;
      const at = base + pos;
      if (top >= 0) {
        if (at === top) {
          ends.pop();
          if (ends.length === 0) {
            this.done = true;
            return pos;
          }
          continue;
        }
        if (at > top) throw malformed(`a segment of ${this.what} overruns its parent`);
      }
      if (stop - pos < 2) {
        this.need = 2;
        return pos;
      }
      const t = chunk[pos]!;
      const l0 = chunk[pos + 1]!;
      // The common case first: a short primitive segment whose content is in this chunk and fits the gather.
      const gather = this.gather;
      if (
        t === 0x04 &&
        l0 < 0x80 &&
        pos + 2 + l0 <= stop &&
        gather !== undefined &&
        this.gathered + l0 <= gather.length &&
        (top < 0 || at + 2 + l0 <= top)
      ) {
        pos += 2;
        let g = this.gathered;
        for (let k = 0; k < l0; k++) gather[g++] = chunk[pos++]!;
        this.gathered = g;
        continue;
      }
      if (t === 0 && l0 === 0 && top < 0) {
        pos += 2;
        ends.pop();
        if (ends.length === 0) {
          this.done = true;
          return pos;
        }
        continue;
      }
      if ((t & 0xdf) !== 0x04) throw malformed(`a segment of ${this.what} is not an OCTET STRING`);
      let length: number;
      let hl = 2;
      if (l0 < 0x80) length = l0;
      else if (l0 === 0x80) {
        if (t !== 0x24) throw malformed("a primitive element with indefinite length");
        if (ends.length > SEGMENT_DEPTH) throw malformed("string segments nested too deeply");
        ends.push(-1);
        pos += 2;
        continue;
      } else {
        const n = l0 & 0x7f;
        if (n > 6) throw malformed("a length field is too large");
        if (stop - pos < 2 + n) {
          this.need = 2 + n;
          return pos;
        }
        length = 0;
        for (let k = 0; k < n; k++) length = length * 256 + chunk[pos + 2 + k]!;
        hl += n;
      }
      const end = at + hl + length;
      if (top >= 0 && end > top) throw malformed(`a segment of ${this.what} overruns its parent`);
      pos += hl;
      if (t === 0x24) {
        if (ends.length > SEGMENT_DEPTH) throw malformed("string segments nested too deeply");
        ends.push(end);
      } else {
        this.left = length;
      }
    }
    return pos;
  }

  /** Hands on `n` value bytes at chunk[pos]: as a view when long, else copied into the gather buffer. */
  private emit(chunk: Buffer, pos: number, n: number): void {
    if (n >= VIEW_MIN) {
      if (this.gathered > 0) {
        this.out.push(this.gather!.subarray(0, this.gathered));
        this.gather = undefined;
        this.gathered = 0;
      }
      this.out.push(chunk.subarray(pos, pos + n));
      return;
    }
    if (!this.gather || this.gathered + n > this.gather.length) {
      if (this.gathered > 0) this.out.push(this.gather!.subarray(0, this.gathered));
      this.gather = Buffer.allocUnsafe(GATHER_BYTES);
      this.gathered = 0;
    }
    this.gathered += chunk.copy(this.gather, this.gathered, pos, pos + n);
  }
}

/** Deepest nesting of indefinite-length elements skipped in one another. */
const SKIP_DEPTH = 64;

/**
 * Skips the content of an indefinite-length element in place, like SegmentScanner: one tight loop over each input
 * chunk reads the headers of the elements inside (any tags; a definite element is skipped whole, an indefinite one
 * is entered), so skipping costs linear time whatever the elements. Every header read is counted (`nodes`) for the
 * caller's node budget.
 */
export class ElementSkipper {
  /** Open indefinite elements (depth), the outer one included. */
  private depth = 1;
  /** Bytes of the current definite element still to skip. */
  private left = 0;
  /** Headers read so far. */
  nodes = 0;
  need = 1;
  done = false;

  constructor(private readonly what: string) {}

  /** Scans `chunk` from `pos`, at most up to `maxNodes` headers; returns where it stopped. */
  scan(chunk: Buffer, pos: number, maxNodes: number): number {
    const stop = chunk.length;
    this.need = 1;
    while (pos < stop) {
      if (this.left > 0) {
        const n = Math.min(this.left, stop - pos);
        pos += n;
        this.left -= n;
        continue;
      }
      if (stop - pos < 2) {
        this.need = 2;
        return pos;
      }
      const first = chunk[pos]!;
      if (first === 0 && chunk[pos + 1] === 0) {
        pos += 2;
        if (--this.depth === 0) {
          this.done = true;
          return pos;
        }
        continue;
      }
      if (++this.nodes > maxNodes) return pos;
      let i = pos + 1;
      if ((first & 0x1f) === 0x1f) {
        let tagNumber = 0;
        for (;;) {
          if (i >= stop) {
            this.nodes--;
            this.need = i - pos + 2;
            return pos;
          }
          const x = chunk[i++]!;
          tagNumber = tagNumber * 128 + (x & 0x7f);
          if (tagNumber > 0x1fffffff) throw malformed("a tag number is too large");
          if (!(x & 0x80)) break;
        }
      }
      if (i >= stop) {
        this.nodes--;
        this.need = i - pos + 1;
        return pos;
      }
      const l0 = chunk[i++]!;
      if (l0 === 0x80) {
        if (!(first & 0x20)) throw malformed("a primitive element with indefinite length");
        if (this.depth >= SKIP_DEPTH) throw malformed(`structures in ${this.what} nested too deeply`);
        this.depth++;
        pos = i;
        continue;
      }
      let length = l0;
      if (l0 > 0x80) {
        const n = l0 & 0x7f;
        if (n > 6) throw malformed("a length field is too large");
        if (i + n > stop) {
          this.nodes--;
          this.need = i + n - pos;
          return pos;
        }
        length = 0;
        for (let k = 0; k < n; k++) length = length * 256 + chunk[i++]!;
      }
      pos = i;
      this.left = length;
    }
    return pos;
  }
}
