import { createHash, type Hash } from "node:crypto";
import { Worker } from "node:worker_threads";

/**
 * Hashing on a second thread, so that seal and open use both cores: the main thread encrypts or decrypts while
 * a worker thread computes the SHA-2 digests of the same bytes.
 *
 * Bytes travel through a ring of SLOTS reused slots of SLOT_BYTES in one SharedArrayBuffer (2 MiB in all, for the
 * whole process): `update()` copies its argument into the ring once (the caller may reuse its buffer at once) and
 * the worker hashes it in place. When the ring is full, `update()` waits (Atomics.wait) until the worker frees a
 * slot, so memory stays bounded whatever the input size and speed. The digests come back by message.
 *
 * On by default; `setHashThread(false)` or the environment variable SEALPOST_HASH_THREAD=0 hashes on the calling
 * thread instead (the same digests; tests compare both). One worker serves every hash group of the thread that
 * loaded this module; it does not keep the process alive unless a digest is awaited.
 */

/** A set of digests of one byte stream. */
export interface HashGroup {
  /** Adds bytes to every digest; keeps no reference to `chunk`. */
  update(chunk: Uint8Array): void;
  /** The digests, in the order of the algorithms given. Call once, after the last update. */
  digests(): Promise<Buffer[]>;
}

export const SLOT_BYTES = 256 * 1024;
export const SLOTS = 8;
/** Per slot: state (0 free, 1 full), group id, length, operation. */
const META = 4;
const OP_CREATE = 1;
const OP_UPDATE = 2;
const OP_DIGEST = 3;
const OP_DROP = 4;
/** How long one wait for a free slot lasts before the worker's health is checked again (ms). */
const WAIT_MS = 1000;

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const { data, ctrl, slots, slotBytes } = workerData;
const meta = new Int32Array(ctrl);
const groups = new Map();
let i = 0;
for (;;) {
  const base = i * 4;
  while (Atomics.load(meta, base) === 0) Atomics.wait(meta, base, 0);
  const group = meta[base + 1];
  const bytes = new Uint8Array(data, i * slotBytes, meta[base + 2]);
  const op = meta[base + 3];
  if (op === ${OP_CREATE}) {
    groups.set(group, Buffer.from(bytes).toString("latin1").split(",").map((a) => createHash(a)));
  } else if (op === ${OP_UPDATE}) {
    const hs = groups.get(group);
    if (hs) for (const h of hs) h.update(bytes);
  } else if (op === ${OP_DIGEST}) {
    const hs = groups.get(group);
    groups.delete(group);
    parentPort.postMessage({ group, digests: hs ? hs.map((h) => h.digest()) : null });
  } else if (op === ${OP_DROP}) {
    groups.delete(group);
  }
  Atomics.store(meta, base, 0);
  Atomics.notify(meta, base);
  i = (i + 1) % slots;
}
`;

/** The producer side of the ring (this thread) and the worker that consumes it. */
class HashRing {
  private readonly worker: Worker;
  private readonly data: Uint8Array;
  private readonly meta: Int32Array;
  private readonly pending = new Map<number, { resolve: (d: Buffer[]) => void; reject: (e: Error) => void }>();
  private readonly dropped = new FinalizationRegistry<number>((group) => this.drop(group));
  private next = 0; // slot to fill next
  private cur = 0; // slot being filled
  private curGroup = 0;
  private curLen = 0;
  private nextGroup = 1;
  private dead: Error | undefined;

  constructor() {
    const data = new SharedArrayBuffer(SLOT_BYTES * SLOTS);
    const ctrl = new SharedArrayBuffer(SLOTS * META * 4);
    this.data = new Uint8Array(data);
    this.meta = new Int32Array(ctrl);
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { data, ctrl, slots: SLOTS, slotBytes: SLOT_BYTES },
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1, codeRangeSizeMb: 2, stackSizeMb: 1 },
    });
    this.worker.unref();
    this.worker.on("message", (m: { group: number; digests: Uint8Array[] | null }) => {
      const p = this.pending.get(m.group);
      if (!p) return;
      this.pending.delete(m.group);
      if (this.pending.size === 0) this.worker.unref();
      if (m.digests) p.resolve(m.digests.map((d) => Buffer.from(d.buffer, d.byteOffset, d.byteLength)));
      else p.reject(new Error("hash thread: unknown hash group"));
    });
    const fail = (e: Error) => {
      this.dead ??= e;
      for (const p of this.pending.values()) p.reject(this.dead);
      this.pending.clear();
    };
    this.worker.on("error", fail);
    this.worker.on("exit", (code) => fail(new Error(`the hash thread stopped (exit code ${code})`)));
  }

  get alive(): boolean {
    return this.dead === undefined;
  }

  create(algorithms: string[], owner: object): number {
    const group = this.nextGroup++;
    if (this.nextGroup > 0x7fffffff) this.nextGroup = 1;
    this.control(OP_CREATE, group, Buffer.from(algorithms.join(","), "latin1"));
    this.dropped.register(owner, group, owner);
    return group;
  }

  /** Copies `chunk` into the ring, handing each slot to the worker as soon as it is written. */
  update(group: number, chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length) {
      this.open(group);
      const n = Math.min(SLOT_BYTES, chunk.length - off);
      this.data.set(chunk.subarray(off, off + n), this.cur * SLOT_BYTES);
      this.curLen = n;
      off += n;
      this.publish(OP_UPDATE);
    }
  }

  digest(group: number, owner: object): Promise<Buffer[]> {
    this.dropped.unregister(owner);
    const p = new Promise<Buffer[]>((resolve, reject) => {
      this.pending.set(group, { resolve, reject });
    });
    this.worker.ref();
    this.control(OP_DIGEST, group, new Uint8Array(0));
    return p;
  }

  private drop(group: number): void {
    if (this.alive) this.control(OP_DROP, group, new Uint8Array(0));
  }

  private control(op: number, group: number, payload: Uint8Array): void {
    this.open(group);
    this.data.set(payload, this.cur * SLOT_BYTES);
    this.curLen = payload.length;
    this.publish(op);
  }

  /** Waits until slot `next` is free and makes it the current slot. */
  private open(group: number): void {
    const base = this.next * META;
    while (Atomics.load(this.meta, base) !== 0) {
      if (this.dead) throw this.dead;
      Atomics.wait(this.meta, base, 1, WAIT_MS);
    }
    this.cur = this.next;
    this.next = (this.next + 1) % SLOTS;
    this.curGroup = group;
    this.curLen = 0;
  }

  private publish(op: number): void {
    const base = this.cur * META;
    this.meta[base + 1] = this.curGroup;
    this.meta[base + 2] = this.curLen;
    this.meta[base + 3] = op;
    Atomics.store(this.meta, base, 1);
    Atomics.notify(this.meta, base);
    this.curLen = 0;
  }
}

let ring: HashRing | undefined;
let enabled = process.env.SEALPOST_HASH_THREAD !== "0";

/** Hash on the worker thread (true, the default) or on the calling thread (false). Returns the previous setting. */
export function setHashThread(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** The digests `algorithms` (Node names: sha256, sha384 ...) of one byte stream, on the hash thread when enabled. */
export function hashGroup(algorithms: string[]): HashGroup {
  if (enabled) {
    if (!ring?.alive) ring = new HashRing();
    return new ThreadHashGroup(ring, algorithms);
  }
  return new LocalHashGroup(algorithms);
}

class ThreadHashGroup implements HashGroup {
  private readonly group: number;
  private done = false;

  constructor(
    private readonly ring: HashRing,
    algorithms: string[],
  ) {
    for (const a of algorithms) createHash(a); // an unknown algorithm throws here, as createHash would
    this.group = ring.create(algorithms, this);
  }

  update(chunk: Uint8Array): void {
    if (this.done) throw new Error("HashGroup.update() after digests()");
    this.ring.update(this.group, chunk);
  }

  digests(): Promise<Buffer[]> {
    if (this.done) throw new Error("HashGroup.digests() called twice");
    this.done = true;
    return this.ring.digest(this.group, this);
  }
}

class LocalHashGroup implements HashGroup {
  private readonly hashes: Hash[];

  constructor(algorithms: string[]) {
    this.hashes = algorithms.map((a) => createHash(a));
  }

  update(chunk: Uint8Array): void {
    for (const h of this.hashes) h.update(chunk);
  }

  async digests(): Promise<Buffer[]> {
    return this.hashes.map((h) => h.digest());
  }
}
