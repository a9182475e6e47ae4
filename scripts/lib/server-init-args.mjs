// The `sealpost-server init` arguments shared by the demo and the benchmark relay.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const pkiDir = path.join(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../.."), "fixtures/pki");
const manifest = JSON.parse(readFileSync(path.join(pkiDir, "manifest.json"), "utf8"));
const pki = (rel) => path.join(pkiDir, rel);

/**
 * Arguments of `sealpost-server init` for a data folder at `dataDir`: the fixture root as trust anchor, the fixture
 * intermediate, both fixture CRLs (intermediate's, then root's), and fixture person `adminId` (default "ops-wu")
 * as the first admin (certificate, name, email, agency).
 */
export function fixtureInitArgs(dataDir, adminId = "ops-wu") {
  const admin = manifest.people[adminId];
  return [
    "init",
    "--data",
    dataDir,
    "--trust",
    pki(manifest.root.cert),
    "--intermediates",
    pki(manifest.intermediate.cert),
    "--crl",
    pki(manifest.intermediate.crl),
    "--crl",
    pki(manifest.root.crl),
    "--admin-cert",
    pki(admin.sign.cert),
    "--admin-name",
    admin.name,
    "--admin-email",
    admin.email,
    "--admin-agency",
    admin.agency,
  ];
}
