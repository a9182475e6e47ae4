import type { ActorDto, CaseDto, NoteDto, ReceiptDto, TransferProfile } from "@sealpost/protocol";
import { useEffect, useState } from "preact/hooks";
import type { ConsoleApi } from "./api.js";
import { Command } from "./copy.js";
import { saveBlob, saveUrl } from "./download.js";
import { type Lang, stateName, type T } from "./i18n.js";
import { uploadSealed } from "./upload.js";

type Kind = "payload" | "result";

/** How often an open case page asks the server again while the case waits for a step done elsewhere (the CLI). */
const REFRESH_MS = 3000;
/**
 * The page stops asking after this long without a key press or pointer use, so an unattended page does not keep
 * its session alive past the server's idle timeout.
 */
const REFRESH_IDLE_MS = 5 * 60_000;
/** States after which nothing more happens to a case. */
const FINAL_STATES = new Set(["result_received", "cancelled"]);
interface Loaded {
  c: CaseDto & { notes?: NoteDto[] };
  profile: TransferProfile | undefined;
  receipts: ReceiptDto[];
}

/** Words for a server refusal of an upload. */
function uploadRefusal(t: T, e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === "RECIPIENTS_MISMATCH") return t("recipientsMismatch");
  if (code === "NOT_CMS") return t("notCms");
  return `${t("error")}: ${code ?? ""} ${(e as Error).message}`;
}

/**
 * One case: details, recipients (named from their certificates), files with size and SHA-256, a timeline of who did
 * what when, receipts with the hash check, notes, and the actions of the caller's side (upload a sealed file,
 * download, note, withdraw), each local step with the exact CLI command.
 */
export function CasePage(props: {
  api: ConsoleApi;
  t: T;
  lang: Lang;
  id: string;
  actor: ActorDto;
  onError: (e: unknown) => void;
}) {
  const { api, t, lang, id, actor } = props;
  const [data, setData] = useState<Loaded | undefined>();
  const [round, setRound] = useState(0);
  const [status, setStatus] = useState<string | undefined>();
  const [file, setFile] = useState<File | undefined>();
  const [note, setNote] = useState("");
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState<{ bytes: number; total: number } | undefined>();

  useEffect(() => {
    let stale = false;
    (async () => {
      const c = await api.client.call("getCase", { params: { id } });
      const profile = await api.client.call("getProfile", { params: { id } }).catch(() => undefined);
      const receipts = await api.client.call("listReceipts", { params: { id } }).catch(() => [] as ReceiptDto[]);
      if (!stale) setData({ c, profile, receipts });
    })().catch(props.onError);
    return () => {
      stale = true;
    };
  }, [id, round]);

  // The steps that move a case after an upload (receive, reply, result) are signed receipts and uploads made with
  // the local kit: the page asks again every REFRESH_MS while it is shown, so the new state appears by itself.
  const waiting = data !== undefined && !FINAL_STATES.has(data.c.state);
  useEffect(() => {
    if (!waiting) return;
    let lastInput = Date.now();
    const input = () => {
      lastInput = Date.now();
    };
    addEventListener("keydown", input);
    addEventListener("pointerdown", input);
    const timer = setInterval(() => {
      if (document.visibilityState === "visible" && Date.now() - lastInput < REFRESH_IDLE_MS) setRound((r) => r + 1);
    }, REFRESH_MS);
    return () => {
      clearInterval(timer);
      removeEventListener("keydown", input);
      removeEventListener("pointerdown", input);
    };
  }, [waiting]);

  if (!data) return <p role="status">{t("loading")}</p>;
  const { c, profile, receipts } = data;
  const sender = actor.agency === c.senderAgency;
  const receiver = actor.agency === c.receivingAgency;
  const fmt = (iso: string) => new Date(iso).toLocaleString(lang);

  // The browser streams the sealed file to disk (a download link with the session's CSRF token in the query, which
  // the server accepts on downloads only); nothing of it is held in the page.
  const download = (kind: Kind) => {
    const q = api.csrf ? `?csrf=${encodeURIComponent(api.csrf)}` : "";
    saveUrl(`/v1/cases/${encodeURIComponent(id)}/${kind}${q}`, `${id}.${kind}.p7m`);
    setStatus(t(kind === "payload" ? "downloadedPayload" : "downloadedResult"));
  };
  const upload = async (e: Event) => {
    e.preventDefault();
    if (!file) return;
    const kind: Kind = sender ? "payload" : "result";
    setBusy(true);
    setStatus(t("uploading"));
    setSent({ bytes: 0, total: file.size });
    try {
      await uploadSealed(kind, id, file, api.csrf, (bytes, total) => setSent({ bytes, total }));
      setStatus(`${t("uploaded")} ${file.size.toLocaleString(lang)} ${t("bytes")}`);
      setRound((r) => r + 1);
    } catch (err) {
      setStatus(uploadRefusal(t, err));
    } finally {
      setBusy(false);
    }
  };
  const addNote = async (e: Event) => {
    e.preventDefault();
    try {
      await api.client.call("addNote", { params: { id }, body: { text: note } });
      setNote("");
      setRound((r) => r + 1);
    } catch (err) {
      props.onError(err);
    }
  };
  const cancel = async (e: Event) => {
    e.preventDefault();
    try {
      await api.client.call("cancelCase", { params: { id }, body: reason ? { reason } : {} });
      setStatus(t("cancelled"));
      setRound((r) => r + 1);
    } catch (err) {
      props.onError(err);
    }
  };

  // Staff are named from the profile's recipients (the sender's own staff are among them); else by their id.
  const nameOf = (staffId: string) => profile?.recipients.find((r) => r.staffId === staffId)?.name ?? staffId;
  const timeline: { at: string; what: string; who: string }[] = [
    { at: c.createdAt, what: stateName(lang, "registered"), who: nameOf(c.senderStaff) },
  ];
  if (c.payload)
    timeline.push({
      at: c.payload.uploadedAt,
      what: stateName(lang, "sent"),
      who: nameOf(c.payload.uploadedBy?.staffId ?? ""),
    });
  for (const r of receipts) {
    timeline.push({
      at: r.receivedAt,
      what: stateName(lang, r.statement.kind === "payload" ? "received" : "result_received"),
      who: r.staffName,
    });
  }
  for (const n of c.notes ?? []) timeline.push({ at: n.createdAt, what: t("notes"), who: n.staffName });
  if (c.result)
    timeline.push({
      at: c.result.uploadedAt,
      what: stateName(lang, "processed"),
      who: nameOf(c.result.uploadedBy?.staffId ?? ""),
    });
  if (c.state === "cancelled")
    timeline.push({ at: c.updatedAt, what: stateName(lang, "cancelled"), who: c.senderAgency });
  timeline.sort((a, b) => a.at.localeCompare(b.at));

  const files: [Kind, CaseDto["payload"]][] = [
    ["payload", c.payload],
    ["result", c.result],
  ];
  const canUpload = (sender && c.state === "registered") || (receiver && c.state === "received");

  return (
    <article aria-labelledby="case-heading">
      <p>
        <a href="#/outbox">{t("back")}</a>
      </p>
      <h1 id="case-heading">
        {t("caseId")} {c.id}
      </h1>
      {status && (
        <p role="status" class="status">
          {status}
        </p>
      )}
      {sent && (
        <p class="progress">
          <progress
            aria-label={t("uploadProgress")}
            max={sent.total}
            value={sent.bytes}
            data-testid="upload-progress"
          />{" "}
          <span aria-live="polite">
            {sent.bytes.toLocaleString(lang)} / {sent.total.toLocaleString(lang)} {t("bytes")}
            {sent.total > 0 ? ` (${Math.floor((sent.bytes * 100) / sent.total)}%)` : ""}
          </span>
        </p>
      )}
      <dl class="details">
        <dt>{t("state")}</dt>
        <dd data-testid="case-state">{stateName(lang, c.state)}</dd>
        <dt>{t("category")}</dt>
        <dd>{c.category}</dd>
        <dt>{t("sender")}</dt>
        <dd>{c.senderAgency}</dd>
        <dt>{t("receiver")}</dt>
        <dd>{c.receivingAgency}</dd>
        <dt>{t("records")}</dt>
        <dd>{c.recordCount}</dd>
        <dt>{t("uploadNo")}</dt>
        <dd>{c.uploadNo}</dd>
        <dt>{t("remarks")}</dt>
        <dd>{c.remarks}</dd>
      </dl>

      {profile && (
        <section aria-labelledby="recipients-heading">
          <h2 id="recipients-heading">{t("recipients")}</h2>
          <table>
            <thead>
              <tr>
                <th scope="col">{t("recipientName")}</th>
                <th scope="col">{t("agency")}</th>
                <th scope="col">{t("email")}</th>
                <th scope="col">{t("certificate")}</th>
              </tr>
            </thead>
            <tbody>
              {profile.recipients.map((r) => (
                <tr key={r.certificate.sha256}>
                  <td>{r.certificate.commonName}</td>
                  <td>{r.agency}</td>
                  <td>{r.email}</td>
                  <td class="hash">{r.certificate.sha256}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {sender && (
            <button
              type="button"
              onClick={() =>
                saveBlob(
                  new Blob([JSON.stringify(profile, null, 2)], { type: "application/json" }),
                  `${c.id}.settings.json`,
                )
              }
            >
              {t("settingsFile")}
            </button>
          )}
        </section>
      )}

      <section aria-labelledby="files-heading">
        <h2 id="files-heading">{t("files")}</h2>
        <table>
          <thead>
            <tr>
              <th scope="col">{t("files")}</th>
              <th scope="col">{t("size")}</th>
              <th scope="col">{t("sha256")}</th>
              <th scope="col">{t("uploadedAt")}</th>
              <th scope="col">{t("download")}</th>
            </tr>
          </thead>
          <tbody>
            {files
              .filter(([, f]) => f)
              .map(([kind, f]) => (
                <tr key={kind}>
                  <td>{t(kind)}</td>
                  <td>{f!.size}</td>
                  <td class="hash" data-testid={`${kind}-sha256`}>
                    {f!.sha256}
                  </td>
                  <td>{fmt(f!.uploadedAt)}</td>
                  <td>
                    {((kind === "payload" && receiver) || (kind === "result" && sender)) && (
                      <button type="button" onClick={() => download(kind)}>
                        {t("download")} {t(kind)}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
          </tbody>
        </table>
      </section>

      <section aria-labelledby="commands-heading">
        <h2 id="commands-heading">{t("sealCommand")}</h2>
        {sender && c.state === "registered" && (
          <>
            <Command t={t} id="cmd-send" label={t("sealCommand")} command={`sealpost send FILE --case ${c.id}`} />
            <Command
              t={t}
              id="cmd-seal-profile"
              label={t("sealProfileCommand")}
              command={`sealpost seal FILE --profile ${c.id}.settings.json -o FILE.p7m`}
            />
          </>
        )}
        {receiver && (c.state === "sent" || c.state === "received") && (
          <Command t={t} id="cmd-receive" label={t("receiveCommand")} command={`sealpost receive ${c.id} -o FOLDER`} />
        )}
        {receiver && c.state === "received" && (
          <Command t={t} id="cmd-reply" label={t("replyCommand")} command={`sealpost reply ${c.id} RESULT_FILE`} />
        )}
        {sender && (c.state === "processed" || c.state === "result_received") && (
          <Command t={t} id="cmd-result" label={t("resultCommand")} command={`sealpost result ${c.id} -o FOLDER`} />
        )}
        <Command
          t={t}
          id="cmd-open"
          label={t("openCommand")}
          command={`sealpost open ${c.id}.${c.result && sender ? "result" : "payload"}.p7m -o FILE`}
        />
      </section>

      {canUpload && (
        <section aria-labelledby="upload-heading">
          <h2 id="upload-heading">{t("uploadSealed")}</h2>
          <form onSubmit={upload}>
            <label
              class="drop"
              onDragOver={(e) => e.preventDefault()}
              onDrop={(e) => {
                e.preventDefault();
                const f = e.dataTransfer?.files[0];
                if (f) setFile(f);
              }}
            >
              {t("uploadChoose")}{" "}
              <input
                type="file"
                accept=".p7m,application/pkcs7-mime"
                onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0])}
              />
            </label>
            <button type="submit" disabled={!file || busy}>
              {t("uploadButton")}
            </button>
          </form>
        </section>
      )}

      <section aria-labelledby="timeline-heading">
        <h2 id="timeline-heading">{t("timeline")}</h2>
        <ol class="timeline">
          {timeline.map((e, i) => (
            <li key={i}>
              <time dateTime={e.at}>{fmt(e.at)}</time> {e.what} — {e.who}
            </li>
          ))}
        </ol>
      </section>

      <section aria-labelledby="receipts-heading">
        <h2 id="receipts-heading">{t("receipts")}</h2>
        <ul>
          {receipts.map((r) => {
            const f = r.statement.kind === "payload" ? c.payload : c.result;
            const ok = f?.sha256 === r.statement.sha256;
            return (
              <li key={r.id}>
                {fmt(r.receivedAt)} {r.staffName} ({t(r.statement.kind)}):{" "}
                <span class={ok ? "ok" : "bad"}>{ok ? t("receiptOk") : t("receiptBad")}</span>
              </li>
            );
          })}
        </ul>
      </section>

      <section aria-labelledby="notes-heading">
        <h2 id="notes-heading">{t("notes")}</h2>
        {(c.notes ?? []).length === 0 && <p>{t("noNotes")}</p>}
        <ul>
          {(c.notes ?? []).map((n) => (
            <li key={n.id}>
              {fmt(n.createdAt)} {n.staffName}: {n.text}
            </li>
          ))}
        </ul>
        {receiver && c.state === "received" && (
          <form onSubmit={addNote}>
            <label for="note-text">{t("noteAdd")}</label>
            <textarea id="note-text" value={note} onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)} />
            <button type="submit" disabled={!note.trim()}>
              {t("noteButton")}
            </button>
          </form>
        )}
      </section>

      {sender && (c.state === "registered" || c.state === "sent") && (
        <section aria-labelledby="cancel-heading">
          <h2 id="cancel-heading">{t("cancel")}</h2>
          <form onSubmit={cancel}>
            <label for="cancel-reason">{t("cancelReason")}</label>{" "}
            <input id="cancel-reason" value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
            <button type="submit">{t("cancel")}</button>
          </form>
        </section>
      )}
    </article>
  );
}
