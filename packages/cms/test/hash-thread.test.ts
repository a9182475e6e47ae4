import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { SLOTS, SLOT_BYTES, hashGroup, setHashThread } from "../src/hash-thread.js";
import { openFile, sealFile, signFile, verifyFile } from "../src/index.js";
import { pattern, person, tempDir, testTrust } from "./helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
afterEach(() => {
  setHashThread(true);
});
const sha = (alg: string, b: Uint8Array) => createHash(alg).update(b).digest("hex");

describe("hashGroup: digests on the hash thread equal those on the calling thread", () => {
  const sizes = [0, 1, SLOT_BYTES - 1, SLOT_BYTES, SLOT_BYTES + 1, SLOTS * SLOT_BYTES + 500, 3 * SLOTS * SLOT_BYTES];
  for (const thread of [true, false]) {
    it(`every size, several algorithms, interleaved groups (${thread ? "thread" : "in place"})`, async () => {
      setHashThread(thread);
      const algs = ["sha256", "sha384", "sha512", "sha1"];
      const datas = sizes.map((s, i) => pattern(s, i + 7));
      const groups = datas.map(() => hashGroup(algs));
      // Interleave: each group gets its bytes in pieces of varying size, turn by turn; the source buffer is
      // overwritten after each update (update keeps no reference).
      const offs = datas.map(() => 0);
      const scratch = Buffer.alloc(SLOT_BYTES * 3);
      for (let step = 0; offs.some((o, i) => o < datas[i]!.length); step++) {
        for (const [i, d] of datas.entries()) {
          const n = Math.min(d.length - offs[i]!, [1, 999, SLOT_BYTES + 3, 2 * SLOT_BYTES][step % 4]!);
          if (n === 0) continue;
          d.copy(scratch, 0, offs[i], offs[i]! + n);
          groups[i]!.update(scratch.subarray(0, n));
          scratch.fill(0xa5, 0, n);
          offs[i]! += n;
        }
      }
      const got = await Promise.all(groups.map((g) => g.digests()));
      for (const [i, d] of datas.entries()) {
        expect(got[i]!.map((b) => b.toString("hex"))).toEqual(algs.map((a) => sha(a, d)));
      }
    });
  }

  it("refuses an unknown algorithm at once, and a second digests() call", async () => {
    expect(() => hashGroup(["sha256", "no-such-hash"])).toThrow();
    const g = hashGroup(["sha256"]);
    g.update(Buffer.from("abc"));
    expect((await g.digests())[0]!.toString("hex")).toBe(sha("sha256", Buffer.from("abc")));
    expect(() => g.digests()).toThrow(/twice/);
    expect(() => g.update(Buffer.from("x"))).toThrow(/after digests/);
  });
});

describe("seal, sign and open give the same results with and without the hash thread", () => {
  it("reports the hashes of the bytes actually written, and opens to the same content and checks", async () => {
    const chen = person("soc-chen");
    const wang = person("tax-wang");
    const content = pattern(5 * 1024 * 1024 + 12345, 3);
    const inPath = join(tmp.dir, "in.bin");
    writeFileSync(inPath, content);
    const runs = [];
    for (const thread of [true, false]) {
      setHashThread(thread);
      const tag = thread ? "t" : "l";
      const sealed = await sealFile(inPath, join(tmp.dir, `${tag}.p7m`), {
        recipients: [wang.encrypt.cert],
        signer: chen.sign,
        digest: "sha384",
        signingTime: new Date("2026-01-02T03:04:05Z"),
      });
      const sealedBytes = readFileSync(join(tmp.dir, `${tag}.p7m`));
      expect(sealed.outputSha256).toBe(sha("sha256", sealedBytes));
      expect(sealed.outputBytes).toBe(sealedBytes.length);
      expect(sealed.contentSha256).toBe(sha("sha256", content));
      const signed = await signFile(inPath, join(tmp.dir, `${tag}.sig`), { signer: chen.sign });
      expect(signed.outputSha256).toBe(sha("sha256", readFileSync(join(tmp.dir, `${tag}.sig`))));
      expect(signed.contentSha256).toBe(sha("sha256", content));
      const opened = await openFile(join(tmp.dir, `${tag}.p7m`), join(tmp.dir, `${tag}.out`), {
        keys: [wang.encrypt],
        trust: testTrust(),
      });
      expect(readFileSync(join(tmp.dir, `${tag}.out`)).equals(content)).toBe(true);
      runs.push({ ...opened, trust: undefined });
    }
    expect(runs[0]).toEqual(runs[1]);
    expect(runs[0]!.contentSha256).toBe(sha("sha256", content));
  });

  it("a changed content byte is TAMPERED (messageDigest) on both paths", async () => {
    const chen = person("soc-chen");
    const inPath = join(tmp.dir, "small.bin");
    writeFileSync(inPath, pattern(70_000, 9));
    const codes = [];
    for (const thread of [true, false]) {
      setHashThread(thread);
      const out = join(tmp.dir, `small-${thread}.sig`);
      await signFile(inPath, out, { signer: chen.sign });
      const b = readFileSync(out);
      const at = b.indexOf(pattern(64, 9));
      expect(at).toBeGreaterThan(0);
      b[at + 10]! ^= 1;
      writeFileSync(out, b);
      const e = await verifyFile(out, { trust: testTrust() }).catch((x: unknown) => x);
      codes.push((e as { code?: string }).code);
    }
    expect(codes).toEqual(["TAMPERED", "TAMPERED"]);
  });
});
