import type { DropInput, DropRunDto, DropViewDto } from "@sealpost/protocol";
import { useEffect, useState } from "preact/hooks";
import type { ConsoleApi } from "./api.js";
import type { Lang, T } from "./i18n.js";
import { linesOf, useLoad } from "./load.js";

/** How often the page asks again while a run it shows is still running. */
const RUNNING_REFRESH_MS = 1500;

/** One drop's runs, newest first, each with its outcome and the files that failed. */
function History(props: {
  api: ConsoleApi;
  t: T;
  lang: Lang;
  name: string;
  round: number;
  onError: (e: unknown) => void;
}) {
  const { api, t, lang, name } = props;
  const { data, reload } = useLoad(
    () => api.client.call("dropHistory", { params: { name }, query: { limit: 50 } }),
    props.onError,
    [name, props.round],
  );
  const running = (data ?? []).some((r) => r.status === "running");
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(reload, RUNNING_REFRESH_MS);
    return () => clearInterval(timer);
  }, [running]);
  const fmt = (iso: string | null) => (iso ? new Date(iso).toLocaleString(lang) : "—");
  return (
    <section aria-labelledby="history-heading">
      <h2 id="history-heading">
        {t("dropHistory")} {name}
      </h2>
      {!data && <p role="status">{t("loading")}</p>}
      {data && data.length === 0 && <p>{t("noRuns")}</p>}
      {data && data.length > 0 && (
        <table data-testid="drop-history">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">{t("trigger")}</th>
              <th scope="col">{t("started")}</th>
              <th scope="col">{t("ended")}</th>
              <th scope="col">{t("runStatus")}</th>
              <th scope="col">{t("attempts")}</th>
              <th scope="col">{t("filesMoved")}</th>
              <th scope="col">{t("size")}</th>
              <th scope="col">{t("fileOutcomes")}</th>
            </tr>
          </thead>
          <tbody>
            {data.map((r: DropRunDto) => (
              <tr key={r.id}>
                <td>{r.id}</td>
                <td>{t(r.trigger === "manual" ? "triggerManual" : "triggerSchedule")}</td>
                <td>{fmt(r.startedAt)}</td>
                <td>{fmt(r.endedAt)}</td>
                <td class={r.status === "ok" ? "ok" : r.status === "running" ? undefined : "bad"}>
                  {t(`run_${r.status}`)}
                </td>
                <td>{r.attempts}</td>
                <td>{r.files}</td>
                <td>{r.bytes}</td>
                <td>
                  {r.errors.length === 0 ? (
                    "—"
                  ) : (
                    <ul>
                      {r.errors.map((e, i) => (
                        <li key={i}>
                          {e.file ? `${e.file}: ` : ""}
                          {e.code} {e.message}
                          {e.attempt ? ` (${t("attempt")} ${e.attempt})` : ""}
                        </li>
                      ))}
                    </ul>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

const EMPTY = {
  name: "",
  agency: "",
  direction: "pull",
  host: "",
  port: "22",
  username: "",
  remoteDir: "",
  hostKeySha256: "",
  schedule: "*/15 * * * *",
  maxAttempts: "3",
  notify: "",
};

/**
 * Ops: SFTP drops with their health and latest run; add one (the SFTP private key is read from a file here and sent
 * once to the server, which stores it and never returns it), run now, pause or resume the schedule, and each drop's
 * run history with the files that failed. A running run is followed until it ends.
 */
export function DropsPage(props: { api: ConsoleApi; t: T; lang: Lang; onError: (e: unknown) => void }) {
  const { api, t, lang } = props;
  const { data, reload } = useLoad(() => api.client.call("listDrops"), props.onError);
  const [shown, setShown] = useState<string | undefined>();
  const [round, setRound] = useState(0);
  const [form, setForm] = useState(EMPTY);
  const [key, setKey] = useState<string | undefined>();
  const [status, setStatus] = useState<string | undefined>();
  const field = (k: keyof typeof form) => ({
    value: form[k],
    onInput: (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value }),
  });
  const anyRunning = (data ?? []).some((d) => d.lastRun?.status === "running");
  useEffect(() => {
    if (!anyRunning) return;
    const timer = setInterval(reload, RUNNING_REFRESH_MS);
    return () => clearInterval(timer);
  }, [anyRunning]);

  const act = async (what: () => Promise<unknown>, name: string) => {
    try {
      await what();
      setShown(name);
      setRound((r) => r + 1);
      reload();
    } catch (err) {
      props.onError(err);
    }
  };
  const add = async (e: Event) => {
    e.preventDefault();
    if (!key) return;
    const body: DropInput = {
      name: form.name.trim(),
      agency: form.agency.trim(),
      direction: form.direction as DropInput["direction"],
      host: form.host.trim(),
      port: Number(form.port),
      username: form.username.trim(),
      privateKey: key,
      remoteDir: form.remoteDir.trim(),
      hostKeySha256: form.hostKeySha256.trim(),
      schedule: form.schedule.trim(),
      maxAttempts: Number(form.maxAttempts),
      notifyEmails: linesOf(form.notify),
    };
    try {
      const d = await api.client.call("addDrop", { body });
      setStatus(`${t("dropAdded")}${d.name}`);
      setForm(EMPTY);
      setKey(undefined);
      reload();
    } catch (err) {
      props.onError(err);
    }
  };
  const fmt = (iso: string) => new Date(iso).toLocaleString(lang);
  return (
    <section aria-labelledby="drops-heading">
      <h1 id="drops-heading">{t("drops")}</h1>
      {status && (
        <p role="status" class="status">
          {status}
        </p>
      )}
      {!data && <p role="status">{t("loading")}</p>}
      {data && data.length === 0 && <p>{t("noDrops")}</p>}
      {data && data.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t("name")}</th>
              <th scope="col">{t("agency")}</th>
              <th scope="col">{t("direction")}</th>
              <th scope="col">{t("remote")}</th>
              <th scope="col">{t("schedule")}</th>
              <th scope="col">{t("health")}</th>
              <th scope="col">{t("lastRun")}</th>
              <th scope="col">{t("actions")}</th>
            </tr>
          </thead>
          <tbody>
            {data.map((d: DropViewDto) => (
              <tr key={d.name} data-testid={`drop-${d.name}`}>
                <td>{d.name}</td>
                <td>{d.agency}</td>
                <td>{t(d.direction === "pull" ? "pull" : "push")}</td>
                <td class="hash">
                  {d.username}@{d.host}:{d.port}
                  {d.remoteDir}
                </td>
                <td>
                  <code>{d.schedule}</code> {d.enabled ? "" : `(${t("paused")})`}
                </td>
                <td class={d.health === "ok" ? "ok" : "bad"}>
                  {t(d.health === "ok" ? "healthOk" : "healthFailing")}
                  {d.consecutiveFailures > 0 ? ` (${d.consecutiveFailures})` : ""}
                </td>
                <td data-testid={`drop-last-${d.name}`}>
                  {d.lastRun ? `${t(`run_${d.lastRun.status}`)} ${fmt(d.lastRun.startedAt)}` : "—"}
                </td>
                <td class="actions">
                  <button
                    type="button"
                    disabled={d.lastRun?.status === "running"}
                    onClick={() =>
                      act(() => api.client.call("runDrop", { params: { name: d.name }, body: {} }), d.name)
                    }
                    aria-label={`${t("runNow")} ${d.name}`}
                  >
                    {t("runNow")}
                  </button>
                  <button
                    type="button"
                    onClick={() =>
                      act(
                        () => api.client.call(d.enabled ? "disableDrop" : "enableDrop", { params: { name: d.name } }),
                        d.name,
                      )
                    }
                    aria-label={`${d.enabled ? t("pause") : t("resume")} ${d.name}`}
                  >
                    {d.enabled ? t("pause") : t("resume")}
                  </button>
                  <button type="button" onClick={() => setShown(d.name)} aria-label={`${t("dropHistory")} ${d.name}`}>
                    {t("dropHistory")}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {shown && <History api={api} t={t} lang={lang} name={shown} round={round} onError={props.onError} />}
      <section aria-labelledby="drop-new-heading">
        <h2 id="drop-new-heading">{t("dropNew")}</h2>
        <form class="form" onSubmit={add}>
          <label for="dr-name">{t("name")}</label>
          <input id="dr-name" required maxLength={64} {...field("name")} />
          <label for="dr-agency">{t("agency")}</label>
          <input id="dr-agency" required maxLength={64} {...field("agency")} />
          <label for="dr-direction">{t("direction")}</label>
          <select id="dr-direction" {...field("direction")}>
            <option value="pull">{t("pull")}</option>
            <option value="push">{t("push")}</option>
          </select>
          <label for="dr-host">{t("host")}</label>
          <input id="dr-host" required {...field("host")} />
          <label for="dr-port">{t("port")}</label>
          <input id="dr-port" type="number" min="1" max="65535" required {...field("port")} />
          <label for="dr-user">{t("sftpUser")}</label>
          <input id="dr-user" required {...field("username")} />
          <label for="dr-key">{t("sftpKey")}</label>
          <input
            id="dr-key"
            type="file"
            required
            onChange={async (e) => setKey(await (e.target as HTMLInputElement).files?.[0]?.text())}
          />
          <label for="dr-dir">{t("remoteDir")}</label>
          <input id="dr-dir" required {...field("remoteDir")} />
          <label for="dr-hostkey">{t("hostKey")}</label>
          <input id="dr-hostkey" required placeholder="SHA256:…" {...field("hostKeySha256")} />
          <label for="dr-schedule">{t("schedule")}</label>
          <input id="dr-schedule" required {...field("schedule")} />
          <label for="dr-attempts">{t("maxAttempts")}</label>
          <input id="dr-attempts" type="number" min="1" max="20" required {...field("maxAttempts")} />
          <label for="dr-notify">{t("notifyEmails")}</label>
          <textarea id="dr-notify" rows={2} {...field("notify")} />
          <button type="submit" disabled={!key}>
            {t("dropAdd")}
          </button>
        </form>
      </section>
    </section>
  );
}
