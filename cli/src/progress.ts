import { formatBytes } from "./output.js";

/**
 * A one-line progress bar on stderr for long work: bytes done, rate and time left (when the total is known).
 * Shown only when the stream is a terminal, --quiet is off, and the work is at least `threshold` bytes (default
 * 8 MiB; for unknown totals, once that many bytes are done). Redrawn at most every `intervalMs` (default 100 ms);
 * `done()` erases the line.
 */
export interface ProgressOptions {
  /** Total bytes, when known (a file's size). */
  total?: number | undefined;
  /** Short label, e.g. "sealing". */
  label: string;
  /** Where to draw; default process.stderr. Nothing is drawn unless `isTTY` is true. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  quiet?: boolean;
  /** Minimum size worth a bar, in bytes. Default 8 MiB. */
  threshold?: number;
  /** Minimum time between redraws. Default 100 ms. */
  intervalMs?: number;
  /** Clock, for tests. Default Date.now. */
  now?: () => number;
}

export interface Progress {
  /** Reports the cumulative number of bytes done. */
  update(bytesDone: number): void;
  /** Erases the bar (if one was drawn). Idempotent. */
  done(): void;
  /** True when the bar may be drawn at all (terminal, not quiet). */
  readonly enabled: boolean;
}

export const PROGRESS_THRESHOLD = 8 * 1024 * 1024;

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const threshold = options.threshold ?? PROGRESS_THRESHOLD;
  const interval = options.intervalMs ?? 100;
  const now = options.now ?? Date.now;
  const total = options.total;
  const enabled = stream.isTTY === true && !options.quiet && (total === undefined || total >= threshold);
  const start = now();
  let lastDraw = -Infinity;
  let drawn = false;
  let finished = false;
  return {
    enabled,
    update(bytes: number) {
      if (!enabled || finished) return;
      if (total === undefined && bytes < threshold) return;
      const t = now();
      if (t - lastDraw < interval && !(total !== undefined && bytes >= total)) return;
      lastDraw = t;
      stream.write(
        `\r${renderProgress({ label: options.label, bytes, total, elapsedMs: t - start, columns: stream.columns ?? 80 })}\x1b[K`,
      );
      drawn = true;
    },
    done() {
      if (finished) return;
      finished = true;
      if (drawn) stream.write("\r\x1b[K");
    },
  };
}

/**
 * One progress line, e.g. "sealing [#########-----------]  45%  1.2 GiB / 2.7 GiB  310.5 MiB/s  0:05 left".
 * Pure, for tests.
 */
export function renderProgress(p: {
  label: string;
  bytes: number;
  total?: number | undefined;
  elapsedMs: number;
  columns?: number;
}): string {
  const secs = p.elapsedMs / 1000;
  const rate = secs > 0 ? p.bytes / secs : 0;
  const rateText = `${formatBytes(Math.round(rate))}/s`;
  if (p.total === undefined || p.total <= 0) {
    return `${p.label} ${formatBytes(p.bytes)}  ${rateText}`;
  }
  const frac = Math.min(1, p.bytes / p.total);
  const pct = `${Math.floor(frac * 100)}`.padStart(3);
  const left = rate > 0 ? formatDuration((p.total - p.bytes) / rate) : "--:--";
  const tail = ` ${pct}%  ${formatBytes(p.bytes)} / ${formatBytes(p.total)}  ${rateText}  ${left} left`;
  const columns = p.columns ?? 80;
  const barWidth = Math.max(10, Math.min(30, columns - p.label.length - tail.length - 4));
  const filled = Math.round(frac * barWidth);
  return `${p.label} [${"#".repeat(filled)}${"-".repeat(barWidth - filled)}]${tail}`;
}

/** Seconds as "m:ss" or "h:mm:ss". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = `${s % 60}`.padStart(2, "0");
  return h > 0 ? `${h}:${`${m}`.padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}
