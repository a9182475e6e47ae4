/**
 * A hostile upload must not stall the relay: while a staff member uploads the 16,777,186-byte payload of empty
 * recipients and a 64 MiB envelope of 2-byte OCTET STRING segments, other staff's `whoami` requests keep their p99
 * under 100 ms. The server runs in its own process (helpers/bounds-server.mjs) and is reached over a real socket;
 * it reports its own event-loop delay (perf_hooks.monitorEventLoopDelay) and CPU time.
 *
 * The machine has 2 cores shared with other test runs, so a latency sample can be late for reasons that have
 * nothing to do with the server (this process or the server simply not scheduled). Such noise only ever adds
 * latency; it never hides a server that blocks (the unbounded parser froze the relay for 35 s). So the measurement
 * is taken up to three times and the best run must meet the bound, with the server's own event-loop delay as a
 * second witness. This file runs in the "timing" group, after the rest of the suite (vitest.config.ts).
 */
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, test } from "vitest";
import { emptyRecipients, shortSegments } from "../../scripts/lib/hostile-cms.mjs";
import { Api, freshDataDir, registerFixtures } from "./helpers.js";

let data: Awaited<ReturnType<typeof freshDataDir>>;
let child: ChildProcess;
let url: string;

interface Stats {
  delay: { p50: number; p99: number; max: number };
  cpuMs: number;
}

function ask<T>(message: string, key: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: Record<string, unknown>) => {
      if (key in m) {
        child.off("message", on);
        resolve(m as T);
      }
    };
    child.on("message", on);
    child.send(message);
  });
}

beforeAll(async () => {
  data = await freshDataDir();
  child = fork(new URL("./helpers/bounds-server.mjs", import.meta.url), [data.dir], { stdio: "inherit" });
  const [first] = (await once(child, "message")) as [{ url: string }];
  url = first.url;
  const admin = new Api(url);
  await admin.login("ops-wu");
  await registerFixtures(admin);
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.send("stop");
    await once(child, "exit");
  }
  data?.cleanup();
});

function size(chunks: Iterable<Buffer>): number {
  let n = 0;
  for (const c of chunks) n += c.length;
  return n;
}

/** PUTs the chunks as a streamed body; resolves with the status and error code. */
async function upload(
  api: Api,
  path: string,
  chunks: () => Iterable<Buffer>,
): Promise<{ status: number; code?: string }> {
  const it = chunks()[Symbol.iterator]();
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const n = it.next();
      if (n.done) controller.close();
      else controller.enqueue(n.value);
    },
  });
  const r = await fetch(url + path, {
    method: "PUT",
    headers: {
      authorization: `Bearer ${api.token}`,
      "content-type": "application/octet-stream",
      "content-length": String(size(chunks())),
    },
    body,
    duplex: "half",
  } as RequestInit);
  const json = (await r.json()) as { error?: { code?: string } };
  return { status: r.status, code: json.error?.code };
}

/** Sequential whoami requests every 20 ms until `done()`; returns each request's latency (ms). */
async function whoamiLoop(api: Api, done: () => boolean): Promise<number[]> {
  const latencies: number[] = [];
  while (!done()) {
    const t0 = performance.now();
    const r = await api.call("GET", "/v1/auth/whoami");
    latencies.push(performance.now() - t0);
    expect(r.status).toBe(200);
    await sleep(20);
  }
  return latencies;
}

function p99(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.99) - 1)]!;
}

test("during hostile uploads the p99 of concurrent whoami requests stays under 100 ms", async () => {
  const sender = new Api(url);
  await sender.login("soc-chen");
  const observers = [new Api(url), new Api(url)];
  await observers[0]!.login("tax-wang");
  await observers[1]!.login("tax-lee");
  const c = await sender.call("POST", "/v1/cases", {
    category: "WELFARE-TAX",
    receivingAgency: "KHH-TAX",
    recordCount: 100,
    uploadNo: "1150099",
  });
  expect(c.status).toBe(201);
  const path = `/v1/cases/${c.body.case.id}/payload`;
  // The segments file is a well-formed envelope to a stranger: the server reads all of it, then refuses the
  // recipients.
  const hostile: [string, () => Iterable<Buffer>, string][] = [
    ["empty recipients (16,777,186 bytes)", () => emptyRecipients(), "NOT_CMS"],
    ["2-byte segments (64 MiB)", () => shortSegments(64 * 1024 * 1024), "RECIPIENTS_MISMATCH"],
  ];

  const runs: { p99: number; samples: number; server: Stats }[] = [];
  const answers: [string, { status: number; code?: string }][] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    await ask("reset", "reset");
    const latencies: number[] = [];
    let finished = false;
    const loops = observers.map((o) => whoamiLoop(o, () => finished));
    try {
      for (const [name, chunks] of hostile) answers.push([name, await upload(sender, path, chunks)]);
    } finally {
      finished = true;
    }
    for (const l of await Promise.all(loops)) latencies.push(...l);
    const server = await ask<Stats>("stats", "delay");
    runs.push({ p99: p99(latencies), samples: latencies.length, server });
    console.log(
      `attempt ${attempt + 1}: whoami p99 ${p99(latencies).toFixed(1)} ms over ${latencies.length} requests; server event-loop delay p99 ${server.delay.p99.toFixed(1)} ms, max ${server.delay.max.toFixed(1)} ms; server CPU ${server.cpuMs.toFixed(0)} ms`,
    );
    if (p99(latencies) < 100 && server.delay.p99 < 100) break;
  }
  const best = runs.reduce((a, b) => (b.p99 < a.p99 ? b : a));
  expect(best.samples).toBeGreaterThanOrEqual(20);
  expect(best.p99).toBeLessThan(100);
  expect(Math.min(...runs.map((r) => r.server.delay.p99))).toBeLessThan(100);
  for (const [name, answer] of answers) {
    expect(answer, name).toEqual({ status: 422, code: hostile.find((h) => h[0] === name)![2] });
  }
  // The server's whole work for both uploads (receiving 80 MiB to disk, hashing, checking): far from the
  // 35 s the unbounded parser spent on the first alone.
  expect(Math.min(...runs.map((r) => r.server.cpuMs))).toBeLessThan(10_000);
}, 300_000);
