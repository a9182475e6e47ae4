import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultConfigPath, loadConfig, parseConfig } from "../src/config.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sealpost-config-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("config", () => {
  it("resolves relative paths against the config file's folder and keeps unknown fields", () => {
    const c = parseConfig(
      JSON.stringify({
        trust: ["roots/grca.pem"],
        intermediates: "/etc/pki/gca.pem",
        crlDir: "crls",
        keystore: "me.p12",
        revocation: "prefer",
        server: "https://relay.example.test",
        dropProfiles: { a: 1 },
      }),
      "/home/u/.config/sealpost/config.json",
    );
    expect(c.trust).toEqual(["/home/u/.config/sealpost/roots/grca.pem"]);
    expect(c.intermediates).toEqual(["/etc/pki/gca.pem"]);
    expect(c.crlDir).toBe("/home/u/.config/sealpost/crls");
    expect(c.keystore).toBe("/home/u/.config/sealpost/me.p12");
    expect(c.revocation).toBe("prefer");
    expect(c.server).toBe("https://relay.example.test");
    expect(c.extra).toEqual({ dropProfiles: { a: 1 } });
    expect(c.fetchCrls).toBe(false);
  });

  it.each([
    { name: "not JSON", text: "{trust:", code: "CONFIG", msg: /not valid JSON/ },
    { name: "an array", text: "[]", code: "CONFIG", msg: /one JSON object/ },
    { name: "trust not a list of paths", text: '{"trust":[1]}', code: "CONFIG", msg: /"trust" must be a list/ },
    { name: "bad revocation", text: '{"revocation":"maybe"}', code: "CONFIG", msg: /"revocation"/ },
    { name: "bad fetchCrls", text: '{"fetchCrls":"yes"}', code: "CONFIG", msg: /"fetchCrls"/ },
  ])("rejects $name", ({ text, code, msg }) => {
    expect(() => parseConfig(text, "/x/config.json")).toThrow(msg);
    try {
      parseConfig(text, "/x/config.json");
    } catch (e) {
      expect((e as { code: string }).code).toBe(code);
    }
  });

  it("uses SEALPOST_CONFIG, else XDG_CONFIG_HOME, else ~/.config", () => {
    expect(defaultConfigPath({ SEALPOST_CONFIG: "/a/b.json" })).toEqual({ path: "/a/b.json", explicit: true });
    expect(defaultConfigPath({ XDG_CONFIG_HOME: "/xdg" })).toEqual({
      path: "/xdg/sealpost/config.json",
      explicit: false,
    });
    expect(defaultConfigPath({}).path).toMatch(/\.config\/sealpost\/config\.json$/);
  });

  it("a missing default file is an empty config; a missing explicit file is an IO error", async () => {
    const empty = await loadConfig(undefined, { XDG_CONFIG_HOME: join(dir, "nowhere") });
    expect(empty.path).toBeUndefined();
    expect(empty.trust).toEqual([]);
    await expect(loadConfig(undefined, { SEALPOST_CONFIG: join(dir, "absent.json") })).rejects.toMatchObject({
      code: "IO",
    });
    const file = join(dir, "c.json");
    await writeFile(file, '{"keystore":"k.p12"}');
    await expect(loadConfig(file, {})).resolves.toMatchObject({ path: file, keystore: join(dir, "k.p12") });
  });
});
