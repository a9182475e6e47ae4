import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { link, lstat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { CliError } from "../errors.js";
import { safeFileName } from "./runtime.js";

/** Where an opened file ended up: its path, and whether that file was already there (nothing new written). */
export interface Placed {
  path: string;
  alreadyThere: boolean;
}

/** True when `path` is a regular file (not a link) whose SHA-256 is `sha256`. */
async function holdsContent(path: string, sha256: string): Promise<boolean> {
  const st = await lstat(path).catch(() => undefined);
  if (!st?.isFile()) return false;
  const h = createHash("sha256");
  await pipeline(createReadStream(path), h);
  return h.digest("hex") === sha256;
}

/**
 * Gives the opened file `opened` (a private temporary name in `dir`) its final name: the sender's file name (the
 * manifest's fileName, see safeFileName) when usable, else `fallback` (e.g. `ID.payload`). A name already taken by
 * a file with the same content (`contentSha256`) is the file received before: `opened` is removed and that file
 * returned with `alreadyThere` (running `receive` again writes nothing new). A name taken by anything else (another
 * file, a link) is never replaced: the next name is tried. When no name is free, `opened` is removed and
 * OUTPUT_EXISTS (exit 3) names what is in the way. `opened` never remains: there is one copy of the content.
 * `warn` hears why the sender's name was not used.
 */
export async function placeOpened(o: {
  dir: string;
  opened: string;
  fileName: string | undefined;
  fallback: string;
  contentSha256: string;
  warn?: (text: string) => void;
}): Promise<Placed> {
  const warn = o.warn ?? (() => {});
  const names: string[] = [];
  if (o.fileName !== undefined && o.fileName !== "") {
    const name = safeFileName(o.fileName);
    if (name) {
      names.push(name);
      if (name !== o.fileName.split(/[/\\]/).pop()) {
        warn(
          `the sender's file name ${JSON.stringify(o.fileName)} has characters that are not shown as themselves; using ${name}`,
        );
      }
    } else warn(`the sender's file name ${JSON.stringify(o.fileName)} is not usable here; using ${o.fallback}`);
  }
  if (!names.includes(o.fallback)) names.push(o.fallback);
  const taken: string[] = [];
  try {
    for (const name of names) {
      const target = join(o.dir, name);
      try {
        await link(o.opened, target);
        return { path: target, alreadyThere: false };
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EEXIST" && (await holdsContent(target, o.contentSha256))) {
          return { path: target, alreadyThere: true };
        }
        taken.push(name);
        if (name !== o.fallback) {
          warn(
            code === "EEXIST"
              ? `${name} already exists in ${o.dir} with other content; using ${o.fallback}`
              : `cannot name the file ${name} (${code ?? "error"}); using ${o.fallback}`,
          );
        }
      }
    }
  } finally {
    await unlink(o.opened).catch(() => {});
  }
  throw new CliError("OUTPUT_EXISTS", `${taken.join(" and ")} already exist in ${o.dir} with other content.`, {
    hint: "Move them away, or open into another folder with -o DIR; nothing was written.",
    details: { dir: o.dir, names: taken },
  });
}
