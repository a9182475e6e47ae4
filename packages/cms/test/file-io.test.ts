import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileInput, READ_CHUNK_BYTES } from "../src/file-input.js";
import { openFile, sealFile } from "../src/index.js";
import {
  SYNC_STEP_BYTES,
  TempOutput,
  WRITE_HIGH_WATER_BYTES,
  sweepStaleTemps,
  tempPathFor,
} from "../src/temp-output.js";
import { pattern, person, tempDir, testTrust } from "./helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = () => {
  const d = join(tmp.dir, `d${n++}`);
  mkdirSync(d);
  return d;
};

describe("FileInput (chunked reads with one read ahead)", () => {
  const sizes = [0, 1, READ_CHUNK_BYTES - 1, READ_CHUNK_BYTES, READ_CHUNK_BYTES + 1, 2 * READ_CHUNK_BYTES + 500];
  for (const reuse of [false, true]) {
    it(`reads every size exactly (${reuse ? "two reused buffers" : "fresh buffers"})`, async () => {
      for (const size of sizes) {
        const path = join(fresh(), "in.bin");
        const data = pattern(size, size + 3);
        writeFileSync(path, data);
        const input = await FileInput.open(path, { reuse });
        const hash = createHash("sha256");
        const lengths: number[] = [];
        const kept: Buffer[] = [];
        for await (const c of input) {
          hash.update(c);
          lengths.push(c.length);
          kept.push(c);
        }
        await input.close();
        await input.close(); // twice is fine
        expect(hash.digest("hex")).toBe(createHash("sha256").update(data).digest("hex"));
        expect(lengths.reduce((a, b) => a + b, 0)).toBe(size);
        expect(lengths.slice(0, -1).every((l) => l === READ_CHUNK_BYTES)).toBe(true);
        // fresh chunks stay valid after the loop; reused ones are overwritten by later reads
        if (!reuse) expect(Buffer.concat(kept).equals(data)).toBe(true);
      }
    });
  }
  it("a missing file or a folder => IO", async () => {
    await expect(FileInput.open(join(tmp.dir, "missing.bin"))).rejects.toMatchObject({ code: "IO" });
    const input = await FileInput.open(fresh());
    await expect(
      (async () => {
        for await (const _ of input) {
          // a folder opens but cannot be read
        }
      })(),
    ).rejects.toMatchObject({ code: "IO" });
    await input.close();
  });
});

describe("TempOutput (write-behind)", () => {
  it("many pushes of mixed sizes land in order; commit moves the file into place", async () => {
    const target = join(fresh(), "out.bin");
    const t = await TempOutput.create(target);
    const parts: Buffer[] = [];
    let seed = 1;
    for (let total = 0; total < 3 * WRITE_HIGH_WATER_BYTES; ) {
      const len = [1, 5, 4096, 65_536, 1 << 20, 3 << 20][seed % 6]!;
      const b = pattern(len, seed++);
      parts.push(b);
      t.push(b);
      total += len;
      if (seed % 3 === 0) await t.ready();
    }
    await t.write(Buffer.from("end"));
    parts.push(Buffer.from("end"));
    await t.commit();
    expect(readFileSync(target).equals(Buffer.concat(parts))).toBe(true);
    expect(t.bytes).toBe(Buffer.concat(parts).length);
    expect(readdirSync(join(target, "..")).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
  it("a failed write surfaces as IO at the next call; abort leaves nothing behind", async () => {
    const dir = fresh();
    const target = join(dir, "out.bin");
    const t = await TempOutput.create(target);
    await t.handle.close(); // the disk goes away under the writer (EBADF)
    t.push(pattern(2 << 20, 9)); // starts a write that fails
    await expect(t.ready().then(() => t.flush())).rejects.toMatchObject({ code: "IO" });
    expect(() => t.push(Buffer.alloc(1))).toThrow(expect.objectContaining({ code: "IO" }));
    await expect(t.commit()).rejects.toMatchObject({ code: "IO" });
    await t.abort();
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync(target)).toBe(false);
  });
});

describe("TempOutput durability", () => {
  it("a durable output syncs in the background as it grows and still lands whole", async () => {
    const target = join(fresh(), "big.bin");
    const t = await TempOutput.create(target);
    const block = pattern(1 << 20, 4);
    for (let i = 0; i < (SYNC_STEP_BYTES >> 20) * 2 + 3; i++) await t.write(block);
    await t.commit();
    expect(readFileSync(target).length).toBe((SYNC_STEP_BYTES >> 20) * 2 * block.length + 3 * block.length);
  });
});

describe("sealFile / openFile on disk", () => {
  it("files of several read chunks (reused read buffers) round-trip exactly", async () => {
    const dir = fresh();
    const chen = person("soc-chen");
    const wang = person("tax-wang");
    const data = pattern(3 * READ_CHUNK_BYTES + 12_345, 8);
    writeFileSync(join(dir, "in.bin"), data);
    const sealed = await sealFile(join(dir, "in.bin"), join(dir, "in.p7m"), {
      recipients: [wang.encrypt.cert],
      signer: chen.sign,
    });
    expect(sealed.contentSha256).toBe(createHash("sha256").update(data).digest("hex"));
    const opened = await openFile(join(dir, "in.p7m"), join(dir, "out.bin"), {
      keys: [wang.encrypt],
      trust: testTrust(),
    });
    expect(opened.contentBytes).toBe(data.length);
    expect(readFileSync(join(dir, "out.bin")).equals(data)).toBe(true);
    // durable: false skips the sync, nothing else
    const again = await openFile(join(dir, "in.p7m"), join(dir, "out2.bin"), {
      keys: [wang.encrypt],
      trust: testTrust(),
      durable: false,
    });
    expect(again.contentSha256).toBe(opened.contentSha256);
    expect(readFileSync(join(dir, "out2.bin")).equals(data)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(["in.bin", "in.p7m", "out.bin", "out2.bin"]);
  });

  it("an unreadable input => IO and no output or temp file", async () => {
    const dir = fresh();
    const chen = person("soc-chen");
    const wang = person("tax-wang");
    await expect(
      sealFile(join(dir, "missing.csv"), join(dir, "x.p7m"), { recipients: [wang.encrypt.cert], signer: chen.sign }),
    ).rejects.toMatchObject({ code: "IO" });
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe("a forced output replaces only a regular file, checked again at the rename", () => {
  it("a target swapped for a FIFO after the first check is refused at commit; the temp file is removed", async () => {
    const d = fresh();
    try {
      const target = join(d, "out.csv");
      writeFileSync(target, "old");
      const t = await TempOutput.create(target, true);
      await t.write(Buffer.from("new content"));
      rmSync(target);
      execFileSync("mkfifo", [target]);
      await expect(t.commit()).rejects.toMatchObject({ code: "OUTPUT_NOT_FILE" });
      expect(lstatSync(target).isFIFO()).toBe(true);
      expect(readdirSync(d)).toEqual(["out.csv"]);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it("a character device is refused up front, with and without force", async () => {
    for (const force of [false, true]) {
      await expect(TempOutput.create("/dev/null", force)).rejects.toMatchObject({ code: "OUTPUT_NOT_FILE" });
    }
  });
});

describe("stale temporary files (sweepStaleTemps)", () => {
  it("removes files and folders of dead or reused processes of this host; keeps live ones, other hosts, unmarked names", async () => {
    const d = fresh();
    const mine = basename(tempPathFor(join(d, "x.csv")));
    const m = /sealpost-([0-9a-f]{8})-(\d+)-(\d+)-/.exec(mine)!;
    const [host, start] = [m[1]!, m[3]!];
    const names = {
      dead: `.a.csv.sealpost-${host}-999999-${start}-0a0b.tmp`,
      reused: `.b.csv.sealpost-${host}-${process.ppid}-1-0c0d.tmp`, // a live pid, but started at another time
      live: `.c.csv.sealpost-${host}-${process.pid}-${start}-0e0f.tmp`, // this very process
      otherHost: `.d.csv.sealpost-00000000-999999-${start}-1a1b.tmp`,
      unmarked: ".e.csv.sealpost-1c1d1e1f2a2b.tmp",
      deadFolder: `sealpost-${host}-999999-${start}-AbC123`,
    };
    for (const [k, n] of Object.entries(names)) {
      if (k === "deadFolder") {
        mkdirSync(join(d, n));
        writeFileSync(join(d, n, "content"), "plaintext");
      } else writeFileSync(join(d, n), "plaintext");
    }
    expect((await sweepStaleTemps(d)).sort()).toEqual([names.dead, names.reused].sort());
    expect((await sweepStaleTemps(d, { folders: true })).sort()).toEqual([names.deadFolder]);
    expect(readdirSync(d).sort()).toEqual([names.live, names.otherHost, names.unmarked].sort());
  });
});
