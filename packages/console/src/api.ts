import { SealpostClient } from "@sealpost/client";
import { CSRF_HEADER } from "@sealpost/protocol";

/**
 * The console's API client: @sealpost/client on this origin, with the session cookie (credentials same-origin; the
 * page never sees the session token) and the session's CSRF token on every request (the server requires it on every
 * state change; the page sends it on every request, file downloads included).
 */
export class ConsoleApi {
  csrf: string | undefined;
  readonly client: SealpostClient;

  constructor(origin: string = location.origin) {
    const withCsrf: typeof fetch = (input, init = {}) => {
      if (this.csrf) {
        const headers = new Headers(init.headers);
        headers.set(CSRF_HEADER, this.csrf);
        return fetch(input, { ...init, headers });
      }
      return fetch(input, init);
    };
    this.client = new SealpostClient({ server: origin, credentials: "same-origin", fetch: withCsrf });
  }
}
