import { Transform, type TransformCallback } from "node:stream";
import type { FileInput } from "./file-input.js";
import type { TempOutput } from "./temp-output.js";

/**
 * The plumbing shared by seal and sign: a writer core (SealStream's and SignStream's) driven either as
 * a Transform or from a FileInput into a TempOutput.
 */

/**
 * A writer core: synchronous `update()` per content chunk, then `finish()` once (signs, possibly on a token, and
 * writes the trailer).
 */
export interface StreamCore<R> {
  update(chunk: Uint8Array): void;
  finish(): Promise<R>;
}

/**
 * A Transform around a StreamCore: written chunks go to `update`, end() calls `finish` and keeps its value in
 * `result` (set after the 'end' event). The core is made in the constructor, after the stream, with `push` as its
 * output; an error thrown by the core fails the stream. Backpressure is the stream's.
 */
export class CoreTransform<R> extends Transform {
  private readonly core: StreamCore<R>;
  result: R | undefined;

  constructor(makeCore: (emit: (b: Buffer) => void) => StreamCore<R>) {
    super();
    this.core = makeCore((b) => this.push(b));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.core.update(chunk);
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    this.core.finish().then(
      (r) => {
        this.result = r;
        cb();
      },
      (e: unknown) => cb(e as Error),
    );
  }
}

/**
 * Drives `core` over every chunk of `input`, waiting for `tmp` (the core's output) to be ready after each chunk,
 * then finishes the core and commits `tmp`. On any failure `tmp` is aborted and the error rethrown. The caller
 * keeps ownership of `input` (closes it afterwards, whatever happens).
 */
export async function writeThrough<R>(input: FileInput, core: StreamCore<R>, tmp: TempOutput): Promise<R> {
  try {
    for await (const chunk of input) {
      core.update(chunk);
      await tmp.ready();
    }
    const result = await core.finish();
    await tmp.commit();
    return result;
  } catch (e) {
    await tmp.abort();
    throw e;
  }
}
