// Child process for parse-bounds.test.ts: streams hostile inputs through the BUILT package's inspect and
// openStream and prints the peak RSS before (baseline: modules loaded, every kind parsed once at 1 MiB) and after.
// Run: node bounds-memory-child.mjs <sizeBytes>. Inputs are generated on the fly (never whole in memory).
import { createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { inspect, openStream } from "@sealpost/cms";
import { parseCertificate } from "@sealpost/pki";
import { HOSTILE, emptyRecipients } from "../../../scripts/lib/hostile-cms.mjs";

const size = Number(process.argv[2]);
const pki = fileURLToPath(new URL("../../../fixtures/pki/", import.meta.url));
const key = {
  cert: parseCertificate(readFileSync(`${pki}people/tax-wang/encrypt.cert.pem`, "utf8")),
  privateKey: createPrivateKey(readFileSync(`${pki}people/tax-wang/encrypt.key.pem`)),
  chain: [],
};
const trust = {
  async validate() {
    throw new Error("not reached: no hostile input gets that far");
  },
};

async function run(op, chunks) {
  try {
    if (op === "inspect") await inspect(chunks);
    else
      await openStream(
        (async function* () {
          yield* chunks;
        })(),
        async () => {},
        { keys: [key], trust },
      );
    return "ok";
  } catch (e) {
    if (typeof e?.code !== "string") throw e;
    return e.code;
  }
}

for (const [, gen] of Object.entries(HOSTILE)) {
  await run("inspect", gen(1 << 20));
  await run("open", gen(1 << 20));
}
const baselineKiB = process.resourceUsage().maxRSS;
const outcomes = {};
for (const op of ["inspect", "open"]) {
  outcomes[`${op} emptyRecipients(16,777,186)`] = await run(op, emptyRecipients());
  for (const [name, gen] of Object.entries(HOSTILE)) outcomes[`${op} ${name}`] = await run(op, gen(size));
}
process.stdout.write(JSON.stringify({ baselineKiB, peakKiB: process.resourceUsage().maxRSS, outcomes }));
