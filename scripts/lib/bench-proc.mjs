// Memory and CPU time of another process, read from Linux's /proc/PID (benchmarks only).
import { readFileSync } from "node:fs";

/** One field of /proc/PID/status in MiB ("VmRSS": resident now, "VmHWM": the peak since the process started). */
export function procMemMiB(pid, field) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status);
  if (!m) throw new Error(`/proc/${pid}/status has no ${field} line`);
  return Number(m[1]) / 1024;
}

/** Kernel clock ticks per second for /proc/PID/stat (USER_HZ: 100 on every Linux architecture Node runs on). */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) the process `pid` has used so far, all its threads together. */
export function procCpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces), counted from 3 (state): utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[14 - 3]) + Number(fields[15 - 3])) / TICKS_PER_SECOND;
}

/**
 * Watches `pid` from now until `stop()`: samples VmRSS every `intervalMs` (default 100 ms; also at start and stop)
 * and counts CPU time. `stop()` returns `{ peakRssMiB, cpuSeconds }`. A process that has gone away stops the
 * sampling quietly (stop then throws, since its CPU time can no longer be read).
 */
export function watchProcess(pid, intervalMs = 100) {
  let peak = 0;
  const cpu0 = procCpuSeconds(pid);
  const take = () => {
    try {
      peak = Math.max(peak, procMemMiB(pid, "VmRSS"));
    } catch {
      clearInterval(timer);
    }
  };
  const timer = setInterval(take, intervalMs);
  take();
  return {
    stop() {
      take();
      clearInterval(timer);
      return { peakRssMiB: peak, cpuSeconds: procCpuSeconds(pid) - cpu0 };
    },
  };
}
