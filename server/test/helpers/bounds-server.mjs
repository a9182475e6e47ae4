// A relay server in a process of its own for upload-bounds.test.ts: the test's clients measure it over a real
// socket without sharing its event loop. Run: node bounds-server.mjs DATA_DIR (with an IPC channel). It sends
// { url } when listening; on "reset" it clears its event-loop delay histogram and CPU counter, on "stats" it sends
// { delay: { p50, p99, max } (ms), cpuMs }, on "stop" it closes and exits.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { silentLogger } from "../../dist/log.js";
import { startServer } from "../../dist/server.js";

const [dir] = process.argv.slice(2);
const server = await startServer(dir, {
  listen: "127.0.0.1:0",
  log: silentLogger,
  config: { maxUploadBytes: 256 * 1024 * 1024 },
});
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
let cpu = process.cpuUsage();
process.on("message", async (m) => {
  if (m === "reset") {
    delay.reset();
    cpu = process.cpuUsage();
    process.send({ reset: true });
  } else if (m === "stats") {
    const c = process.cpuUsage(cpu);
    process.send({
      delay: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 },
      cpuMs: (c.user + c.system) / 1000,
    });
  } else if (m === "stop") {
    await server.close();
    process.exit(0);
  }
});
process.send({ url: server.url });
