import type { ActorDto, ConsoleCode } from "@sealpost/protocol";
import { useEffect, useState } from "preact/hooks";
import type { ConsoleApi } from "./api.js";
import { Command } from "./copy.js";
import type { T } from "./i18n.js";

const POLL_MS = 1500;

/**
 * The login page: a one-time code from the server, the CLI command that approves it, and a poll that takes the
 * session once the code is approved. The session token lands in an HttpOnly cookie; the page keeps only the CSRF
 * token.
 */
export function Login(props: { api: ConsoleApi; t: T; onLogin: (actor: ActorDto) => void }) {
  const { api, t } = props;
  const [code, setCode] = useState<ConsoleCode | undefined>();
  const [expired, setExpired] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [round, setRound] = useState(0);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setExpired(false);
    setError(undefined);
    const poll = async (c: ConsoleCode) => {
      if (stopped) return;
      if (Date.parse(c.expiresAt) <= Date.now()) {
        setExpired(true);
        return;
      }
      try {
        const s = await api.client.call("consoleSession", { body: { pollToken: c.pollToken } });
        if (s.state === "active" && s.actor) {
          api.csrf = s.csrf;
          props.onLogin(s.actor);
          return;
        }
      } catch (e) {
        if ((e as { code?: string }).code === "NOT_FOUND") {
          setExpired(true);
          return;
        }
        setError((e as Error).message);
      }
      timer = setTimeout(() => void poll(c), POLL_MS);
    };
    api.client
      .call("consoleCode")
      .then((c) => {
        if (stopped) return;
        setCode(c);
        timer = setTimeout(() => void poll(c), POLL_MS);
      })
      .catch((e: Error) => setError(e.message));
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [round]);

  return (
    <main id="main" class="login">
      <h1>{t("loginHeading")}</h1>
      <p>{t("loginIntro")}</p>
      {code && !expired && (
        <>
          <p class="code-line">
            <span id="code-label">{t("loginCode")}</span>
            <output class="code" aria-labelledby="code-label" data-testid="login-code">
              {code.code}
            </output>
          </p>
          <Command
            t={t}
            id="login-command"
            label={t("loginCommand")}
            command={`sealpost login --server ${location.origin} --key KEYSTORE --approve ${code.code}`}
          />
          <p role="status" aria-live="polite">
            {t("loginWaiting")}
          </p>
        </>
      )}
      {expired && <p role="alert">{t("loginExpired")}</p>}
      {error && (
        <p role="alert">
          {t("error")}: {error}
        </p>
      )}
      {(expired || error) && (
        <button type="button" onClick={() => setRound((r) => r + 1)}>
          {t("newCode")}
        </button>
      )}
    </main>
  );
}
