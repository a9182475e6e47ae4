import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** A copy of the fixture GCA's CA database (fixtures/pki/ca-db) for making later CRLs with `openssl ca -gencrl`. */
const pki = resolve(import.meta.dirname, "../../../fixtures/pki");

/**
 * Copies the fixture CA database into `db` (created), lets `edit` rewrite index.txt, and writes the openssl ca
 * configuration genCrl uses.
 */
export function copyCaDb(db: string, edit: (index: string) => string = (x) => x): void {
  mkdirSync(db);
  for (const f of readdirSync(join(pki, "ca-db"))) copyFileSync(join(pki, "ca-db", f), join(db, f));
  writeFileSync(join(db, "index.txt"), edit(readFileSync(join(db, "index.txt"), "utf8")));
  writeFileSync(
    join(db, "ca.cnf"),
    "[ ca ]\ndefault_ca = gca\n[ gca ]\ndatabase = ./index.txt\ncrlnumber = ./crlnumber\ndefault_md = sha256\ncrl_extensions = crl_ext\n[ crl_ext ]\nauthorityKeyIdentifier = keyid:always\n",
  );
}

/** A GCA CRL from the database in `db`, valid for `hours`, as DER. */
export function genCrl(db: string, hours: number): Uint8Array {
  const out = join(db, `crl-${hours}h.der`);
  execFileSync(
    "openssl",
    [
      ...["ca", "-config", join(db, "ca.cnf"), "-gencrl"],
      ...["-keyfile", join(pki, "intermediate/gca.key.pem"), "-cert", join(pki, "intermediate/gca.cert.pem")],
      ...["-crlhours", String(hours), "-out", `${out}.pem`],
    ],
    { cwd: db, stdio: "pipe" },
  );
  execFileSync("openssl", ["crl", "-in", `${out}.pem`, "-outform", "DER", "-out", out], { stdio: "pipe" });
  return new Uint8Array(readFileSync(out));
}
