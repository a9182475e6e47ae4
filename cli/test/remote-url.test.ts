import { describe, expect, test } from "vitest";
import { RemoteClient } from "../src/remote/client.js";

/**
 * The bearer token, the signed login and the sealed files go to the server URL the user gives: plain http:// is
 * accepted only to this machine (a test or demo relay on loopback), never across a network.
 */
describe("RemoteClient server URL", () => {
  test.each([
    "http://sealpost.example.gov.tw",
    "http://10.1.2.3:8443",
    "http://127.0.0.1.evil.example",
    "ftp://sealpost.example.gov.tw",
    "not a url",
  ])("%s is refused with a usage error (exit 2)", (url) => {
    expect(() => new RemoteClient(url)).toThrow(expect.objectContaining({ code: "USAGE", exitCode: 2 }));
  });

  test.each([
    ["https://sealpost.example.gov.tw/", "https://sealpost.example.gov.tw"],
    ["http://127.0.0.1:8443", "http://127.0.0.1:8443"],
    ["http://localhost:8443/relay/", "http://localhost:8443/relay"],
    ["http://[::1]:8443", "http://[::1]:8443"],
  ])("%s is accepted as %s", (url, base) => {
    expect(new RemoteClient(url).base).toBe(base);
  });
});
