import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Run the openssl CLI (argv holds paths only: no key material, no PIN). Rejects with stderr on failure. */
export async function openssl(args: string[]): Promise<string> {
  try {
    const { stdout } = await run("openssl", args, { maxBuffer: 64 * 1024 * 1024, encoding: "latin1" });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`openssl ${args.slice(0, 2).join(" ")} failed: ${err.stderr ?? err.message}`);
  }
}
