import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * A full garbage collection on demand, for loops that stream a large file through many short-lived buffers: V8
 * counts those buffers as external memory and collects them late, so without it the peak RSS of a download grows by
 * tens of MiB before the first collection. Undefined when this V8 does not allow it (then nothing is collected early).
 */
const collect: (() => void) | undefined = (() => {
  try {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as unknown;
    return typeof gc === "function" ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
})();

/**
 * Counts streamed bytes and collects garbage after every `every` bytes (default 16 MiB): call `add(n)` for each chunk,
 * or `at(total)` with the running total. A full collection of the CLI's small heap takes a few milliseconds, about 60
 * of them per GiB.
 */
export function memoryKeeper(every = 16 * 1024 * 1024): { add(bytes: number): void; at(total: number): void } {
  let since = 0;
  let last = 0;
  const add = (bytes: number) => {
    since += bytes;
    if (since < every) return;
    since = 0;
    collect?.();
  };
  return {
    add,
    at(total) {
      add(Math.max(0, total - last));
      last = total;
    },
  };
}
