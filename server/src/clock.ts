/**
 * Where the server's services take the time from. Injected (ServerContext.clock, job and service options) so tests
 * pin it; production uses systemClock.
 */
export interface Clock {
  now(): Date;
}

/** The machine's clock. */
export const systemClock: Clock = { now: () => new Date() };

/** A clock that stands still at `at` until `set` or `advance` moves it (tests). */
export class ManualClock implements Clock {
  private t: number;

  constructor(at: Date | string = "2026-01-01T00:00:00.000Z") {
    this.t = new Date(at).getTime();
  }

  now(): Date {
    return new Date(this.t);
  }

  set(at: Date | string): void {
    this.t = new Date(at).getTime();
  }

  advance(ms: number): void {
    this.t += ms;
  }
}
