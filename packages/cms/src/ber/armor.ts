import { CmsError } from "../errors.js";

/**
 * Streaming removal of text armor around a CMS file: PEM (`-----BEGIN CMS-----`, `PKCS7`, ...) and S/MIME
 * `application/pkcs7-mime` messages with a base64 body (what `openssl cms -encrypt` writes by default). Binary
 * input (first byte 0x30) passes through untouched. Memory: one input chunk plus a few bytes.
 */
export type Armor = "none" | "pem" | "smime";

const HEADER_LIMIT = 64 * 1024;

/** Returns the armor kind and the binary chunks. */
export async function dearmor(
  input: AsyncIterable<Uint8Array>,
): Promise<{ armor: Armor; chunks: AsyncIterable<Buffer> }> {
  const it = input[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  let done = false;
  const rest = async function* (first: Buffer): AsyncGenerator<Buffer> {
    if (first.length) yield first;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    }
  };
  while (!done && head.length < 16) {
    const r = await it.next();
    if (r.done) done = true;
    else head = Buffer.concat([head, r.value]);
  }
  // Text armor starts with a PEM line or a MIME header field ("Name: value"); anything else is read as BER.
  const start = head.subarray(0, 16).toString("latin1");
  if (!start.startsWith("-----BEGIN ") && !/^[A-Za-z][A-Za-z0-9-]*:[ \t]/.test(start)) {
    return { armor: "none", chunks: rest(head) };
  }
  // Text: read up to the end of the header block.
  const isPemStart = () => head.subarray(0, 11).toString("latin1") === "-----BEGIN ";
  const headerEnd = (): number => {
    const t = head.toString("latin1");
    if (isPemStart()) {
      const nl = t.indexOf("\n");
      return nl < 0 ? -1 : nl + 1;
    }
    const m = /\r?\n\r?\n/.exec(t);
    return m ? m.index + m[0].length : -1;
  };
  while (!done && headerEnd() < 0 && head.length < HEADER_LIMIT) {
    const r = await it.next();
    if (r.done) done = true;
    else head = Buffer.concat([head, r.value]);
  }
  const end = headerEnd();
  if (end < 0) return { armor: "none", chunks: rest(head) }; // not armor: let the BER reader report it
  const headers = head.subarray(0, end).toString("latin1");
  const pem = isPemStart();
  if (!pem) {
    const ct = /^content-type:\s*([^;\r\n]+)/im.exec(headers)?.[1]?.trim().toLowerCase() ?? "";
    const cte = /^content-transfer-encoding:\s*(\S+)/im.exec(headers)?.[1]?.toLowerCase() ?? "";
    if (!/^application\/(x-)?pkcs7-(mime|signature)$/.test(ct)) {
      throw new CmsError(
        "UNSUPPORTED_ALGORITHM",
        `The file is a MIME message of type ${ct || "unknown"}; sealpost reads application/pkcs7-mime only.`,
        { hint: "Save the attachment (smime.p7m) itself, or convert it with `openssl cms -outform DER`." },
      );
    }
    if (cte !== "base64") {
      throw new CmsError(
        "UNSUPPORTED_ALGORITHM",
        `The S/MIME body uses the ${cte || "7bit"} transfer encoding; base64 is expected.`,
      );
    }
  }
  return { armor: pem ? "pem" : "smime", chunks: base64Body(head.subarray(end), rest, pem) };
}

async function* base64Body(
  first: Buffer,
  rest: (first: Buffer) => AsyncGenerator<Buffer>,
  pem: boolean,
): AsyncGenerator<Buffer> {
  let carry = ""; // cleaned base64 not yet a multiple of 4, then (PEM) raw text from a '-' that may start END
  let ended = false;
  for await (const chunk of rest(first)) {
    if (ended) continue; // text after the END line is ignored
    let text = carry + chunk.toString("latin1");
    let pending = "";
    if (pem) {
      const e = text.indexOf("-----END");
      if (e >= 0) {
        text = text.slice(0, e);
        ended = true;
      } else {
        const d = text.indexOf("-");
        if (d >= 0) {
          pending = text.slice(d);
          text = text.slice(0, d);
          if (pending.length > 64) throw notBase64();
        }
      }
    }
    const clean = text.replace(/\s/g, "");
    if (/[^A-Za-z0-9+/=]/.test(clean)) throw notBase64();
    const usable = ended ? clean.length : clean.length - (clean.length % 4);
    carry = clean.slice(usable) + pending;
    if (usable > 0) yield Buffer.from(clean.slice(0, usable), "base64");
  }
  if (pem && !ended) {
    throw new CmsError("TRUNCATED", "The PEM file ends without its END line: it was cut short.", {
      hint: "Download or copy the file again and retry.",
    });
  }
  if (carry.length > 0) {
    if (/[^A-Za-z0-9+/=]/.test(carry)) throw notBase64();
    yield Buffer.from(carry, "base64");
  }
}

function notBase64(): CmsError {
  return new CmsError("MALFORMED", "The armored file contains characters that are not base64.", {
    hint: "The file may be damaged; ask the sender to send it again.",
  });
}
