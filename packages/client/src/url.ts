import { ApiError } from "./errors.js";

/** True for "localhost", 127.0.0.0/8 and ::1 (as URL.hostname spells them). */
function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * The API base URL (origin and path prefix, no trailing slash) of a server URL. The bearer token, signed logins
 * and sealed files must not cross a network in clear: only https:// is accepted, and http:// only to this machine
 * (127.0.0.0/8, ::1, localhost). Throws ApiError BAD_URL otherwise.
 */
export function apiBase(server: string): string {
  let u: URL;
  try {
    u = new URL(server);
  } catch {
    throw new ApiError("BAD_URL", `"${server}" is not a server URL.`, { hint: "e.g. https://sealpost.example.gov.tw" });
  }
  if (u.protocol !== "https:" && !(u.protocol === "http:" && isLoopbackHost(u.hostname))) {
    throw new ApiError(
      "BAD_URL",
      `"${server}" is not an https:// URL: the login token and the sealed files must not cross a network in clear.`,
      { hint: "Use the server's https:// URL (http:// only for 127.0.0.1, ::1 or localhost)." },
    );
  }
  return u.origin + u.pathname.replace(/\/+$/, "");
}
