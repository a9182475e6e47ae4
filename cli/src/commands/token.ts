import { isPkcs11Uri, listTokens, parsePkcs11Uri } from "@sealpost/pki";
import type { Command } from "commander";
import { certOneLine } from "../describe.js";
import { usageError } from "../errors.js";
import type { Runtime } from "./common.js";

/**
 * `sealpost token list [--module PATH | pkcs11:...?module-path=PATH]`: the slots of a PKCS#11 module, their tokens
 * (label, maker, serial, whether a PIN is needed, PIN state) and the objects readable without a PIN (certificates
 * with their subject and usage, public keys; private keys only where the token shows them). Never asks for a PIN.
 */
export function registerTokenCommands(program: Command, rt: Runtime): void {
  const token = program.command("token").description("PKCS#11 tokens (IC cards)");
  token
    .command("list")
    .description("list the slots, tokens, objects and certificates of a PKCS#11 module (no PIN needed)")
    .argument("[uri]", "a pkcs11: URI whose module-path names the module")
    .option("--module <path>", 'PKCS#11 module (.so); default: the URI\'s module-path, else config "pkcs11Module"')
    .addHelpText(
      "after",
      `
Examples:
  sealpost token list --module /usr/lib/softhsm/libsofthsm2.so
  sealpost seal batch.csv --to tax-wang-enc.pem --key "pkcs11:token=陳怡君;object=sign?module-path=/usr/lib/softhsm/libsofthsm2.so"`,
    )
    .action(async (uri: string | undefined, o: { module?: string }) => {
      const config = await rt.config();
      if (uri !== undefined && !isPkcs11Uri(uri)) throw usageError(`"${uri}" is not a pkcs11: URI.`);
      const modulePath = o.module ?? (uri ? parsePkcs11Uri(uri).modulePath : undefined) ?? config.pkcs11Module;
      if (!modulePath) {
        throw usageError(
          "No PKCS#11 module given.",
          'Pass --module /path/to/module.so, a pkcs11: URI with module-path, or set "pkcs11Module" in the config file.',
        );
      }
      const slots = listTokens(modulePath);
      const { out } = rt;
      out.line(`Module ${modulePath}: ${slots.length} slot(s)`);
      for (const s of slots) {
        out.line(`Slot ${s.slotId}: ${s.description}${s.manufacturer ? ` (${s.manufacturer})` : ""}`);
        if (!s.token) {
          out.line("  no token");
          continue;
        }
        const t = s.token;
        const pin = t.pin.locked
          ? "PIN LOCKED"
          : t.pin.finalTry
            ? "one PIN try left"
            : t.pin.countLow
              ? "a wrong PIN was entered: few tries left"
              : "PIN ok";
        out.line(`  Token "${t.label}" ${t.manufacturer} ${t.model}, serial ${t.serial}`);
        out.line(
          `  ${t.initialized ? (t.loginRequired ? "login with a PIN required" : "no login needed") : "not initialised"}; ${pin}`,
        );
        for (const ob of t.objects) {
          const id = ob.idHex ? ` id ${ob.idHex}` : "";
          if (ob.class === "certificate" && ob.cert) {
            const ku = ob.cert.keyUsage ? [...ob.cert.keyUsage].join(", ") : "any usage";
            out.line(`    certificate "${ob.label}"${id}: ${certOneLine(ob.cert)}; ${ob.cert.keyType}; ${ku}`);
          } else {
            out.line(`    ${ob.class} "${ob.label}"${id}${ob.keyType ? ` (${ob.keyType})` : ""}`);
          }
        }
      }
      out.result("token list", {
        module: modulePath,
        slots: slots.map((s) => ({
          slotId: s.slotId,
          description: s.description,
          manufacturer: s.manufacturer,
          tokenPresent: s.tokenPresent,
          token: s.token
            ? {
                label: s.token.label,
                manufacturer: s.token.manufacturer,
                model: s.token.model,
                serial: s.token.serial,
                loginRequired: s.token.loginRequired,
                initialized: s.token.initialized,
                pin: s.token.pin,
                objects: s.token.objects.map((ob) => ({
                  class: ob.class,
                  label: ob.label,
                  id: ob.idHex,
                  keyType: ob.keyType ?? null,
                  certificate: ob.cert
                    ? {
                        subject: ob.cert.subject,
                        issuer: ob.cert.issuer,
                        serialHex: ob.cert.serialHex,
                        keyUsage: ob.cert.keyUsage ? [...ob.cert.keyUsage] : null,
                        sha256: ob.cert.sha256,
                      }
                    : null,
                })),
              }
            : null,
        })),
      });
    });
}
