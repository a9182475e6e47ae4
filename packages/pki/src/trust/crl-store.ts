import { readFile, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { PkiError } from "../errors.js";
import { type ParsedCrl, parseCrls } from "./crl.js";

/**
 * CRLs from memory and from a directory. Files in `dir` (any name; DER or PEM, one or more CRLs each) are re-read
 * when their size or modification time changes, so a newer CRL dropped into the directory is seen at the next
 * validation. Unreadable or malformed files are skipped and reported through `problems`.
 */
export class CrlStore {
  private readonly inline: ParsedCrl[];
  private readonly files = new Map<string, { stamp: string; crls: ParsedCrl[] }>();
  readonly problems: string[] = [];

  constructor(
    crls: Uint8Array[] | undefined,
    private readonly dir: string | undefined,
  ) {
    this.inline = [];
    (crls ?? []).forEach((bytes, i) => {
      try {
        this.inline.push(...parseCrls(bytes, `CRL #${i + 1} given to the trust policy`));
      } catch (err) {
        throw new PkiError(
          "MALFORMED",
          `CRL #${i + 1} given to the trust policy is not a readable CRL (${(err as Error).message}).`,
        );
      }
    });
  }

  async all(): Promise<ParsedCrl[]> {
    if (!this.dir) return this.inline;
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      throw new PkiError(
        "IO",
        `The CRL directory ${this.dir} cannot be read (${(err as NodeJS.ErrnoException).code ?? err}).`,
      );
    }
    const out = [...this.inline];
    const seen = new Set<string>();
    for (const name of names.sort()) {
      const path = join(this.dir, name);
      seen.add(path);
      try {
        const st = await stat(path);
        if (!st.isFile()) continue;
        const stampNow = `${st.size}:${st.mtimeMs}`;
        let hit = this.files.get(path);
        if (!hit || hit.stamp !== stampNow) {
          hit = { stamp: stampNow, crls: parseCrls(new Uint8Array(await readFile(path)), path) };
          this.files.set(path, hit);
        }
        out.push(...hit.crls);
      } catch (err) {
        this.problems.push(`${path}: ${(err as Error).message}`);
      }
    }
    for (const k of [...this.files.keys()]) if (!seen.has(k)) this.files.delete(k);
    return out;
  }
}
