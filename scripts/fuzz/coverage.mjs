// Coverage feedback from V8's precise block coverage (node:inspector Profiler), for the fuzzer in this folder.
// No instrumentation and no native addon: V8 counts every block of every function of the scripts we care about.
import { Session } from "node:inspector";

/**
 * Block coverage of the scripts whose URL `include` accepts. `take()` returns the keys covered since the last
 * call (V8 resets its counters on each take), as numbers interned for this process.
 *
 * V8 reports, per function, its range and nested ranges whose count differs from the enclosing one (ranges with
 * the same count are merged into their parent). So a block is covered when its function ran and no range with
 * count 0 contains it. Every range ever reported for a function is remembered as one of its blocks; a key is
 * (function, block) for each such block covered now, so a block that was reported uncovered before and is now
 * merged into its running parent counts as newly covered.
 */
export class BlockCoverage {
  constructor(include) {
    this.include = include;
    this.session = new Session();
    this.session.connect();
    this.post("Profiler.enable");
    this.post("Profiler.startPreciseCoverage", { callCount: true, detailed: true });
    /** function key -> Map(block "start:end" -> interned id) */
    this.blocks = new Map();
    this.ids = new Map();
    this.nextId = 1;
  }

  post(method, params) {
    let out;
    let err;
    this.session.post(method, params, (e, r) => {
      err = e;
      out = r;
    });
    if (err) throw err;
    return out;
  }

  intern(key) {
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(key, id);
    }
    return id;
  }

  /** Keys (interned numbers) covered since the last call. */
  take() {
    const { result } = this.post("Profiler.takePreciseCoverage");
    const keys = [];
    for (const script of result) {
      if (!this.include(script.url)) continue;
      for (const fn of script.functions) {
        const ranges = fn.ranges;
        if (ranges.length === 0 || ranges[0].count === 0) continue;
        const fkey = `${script.url}#${ranges[0].startOffset}`;
        let known = this.blocks.get(fkey);
        if (!known) {
          known = new Map();
          this.blocks.set(fkey, known);
        }
        const zeros = [];
        for (const r of ranges) {
          const b = `${r.startOffset}:${r.endOffset}`;
          if (!known.has(b)) known.set(b, { start: r.startOffset, end: r.endOffset, id: this.intern(`${fkey}@${b}`) });
          if (r.count === 0) zeros.push(r);
        }
        for (const blk of known.values()) {
          let dead = false;
          for (const z of zeros) {
            if (z.startOffset <= blk.start && blk.end <= z.endOffset) {
              dead = true;
              break;
            }
          }
          if (!dead) keys.push(blk.id);
        }
      }
    }
    return keys;
  }

  close() {
    this.post("Profiler.stopPreciseCoverage");
    this.session.disconnect();
  }
}
