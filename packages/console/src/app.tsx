import type { ActorDto } from "@sealpost/protocol";
import { useEffect, useState } from "preact/hooks";
import { ConsoleApi } from "./api.js";
import { CasePage } from "./case.js";
import { type Box, CaseList } from "./cases.js";
import { initialLang, type Lang, saveLang, translator } from "./i18n.js";
import { Login } from "./login.js";
import { RegisterCase } from "./register.js";

/** The page's place, from the URL's hash: #/inbox, #/outbox, #/cases, #/case/ID. */
type Route = { page: "cases"; box: Box } | { page: "case"; id: string } | { page: "new" };

function routeOf(hash: string): Route {
  const m = /^#\/case\/(.+)$/.exec(hash);
  if (m) return { page: "case", id: decodeURIComponent(m[1]!) };
  if (hash === "#/new") return { page: "new" };
  if (hash === "#/outbox") return { page: "cases", box: "outbox" };
  if (hash === "#/cases") return { page: "cases", box: "all" };
  return { page: "cases", box: "inbox" };
}

export function App() {
  const [api] = useState(() => new ConsoleApi());
  const [lang, setLang] = useState<Lang>(initialLang);
  const [actor, setActor] = useState<ActorDto | null | undefined>(undefined);
  const [route, setRoute] = useState<Route>(() => routeOf(location.hash));
  const [message, setMessage] = useState<string | undefined>();
  const t = translator(lang);

  useEffect(() => {
    saveLang(lang);
    document.title = t("title");
  }, [lang]);
  useEffect(() => {
    const on = () => setRoute(routeOf(location.hash));
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  useEffect(() => {
    api.client
      .call("consoleWhoami")
      .then((s) => {
        api.csrf = s.csrf;
        setActor(s.actor ?? null);
      })
      .catch(() => setActor(null));
  }, []);

  const onError = (e: unknown) => {
    const err = e as { status?: number; code?: string; message?: string };
    if (err.status === 401) {
      api.csrf = undefined;
      setActor(null);
      setMessage(t("sessionEnded"));
      return;
    }
    setMessage(`${t("error")}: ${err.code ?? ""} ${err.message ?? String(e)}`);
  };
  const logout = async () => {
    try {
      await api.client.call("consoleLogout");
    } catch (e) {
      onError(e);
    }
    api.csrf = undefined;
    setActor(null);
  };

  return (
    <>
      <a class="skip" href="#main">
        {t("skip")}
      </a>
      <header>
        <span class="brand">{t("title")}</span>
        {actor && (
          <nav aria-label={t("nav")}>
            <a href="#/inbox" aria-current={route.page === "cases" && route.box === "inbox" ? "page" : undefined}>
              {t("inbox")}
            </a>
            <a href="#/outbox" aria-current={route.page === "cases" && route.box === "outbox" ? "page" : undefined}>
              {t("outbox")}
            </a>
            <a href="#/cases" aria-current={route.page === "cases" && route.box === "all" ? "page" : undefined}>
              {t("allCases")}
            </a>
            {actor.role === "staff" && (
              <a href="#/new" aria-current={route.page === "new" ? "page" : undefined}>
                {t("newCase")}
              </a>
            )}
          </nav>
        )}
        <div class="tools">
          {actor && (
            <span class="who">
              {t("loggedInAs")} {actor.name} ({actor.agency})
            </span>
          )}
          <button
            type="button"
            lang={lang === "en" ? "zh-Hant-TW" : "en"}
            aria-label={t("languageLabel")}
            onClick={() => setLang(lang === "en" ? "zh-TW" : "en")}
          >
            {t("language")}
          </button>
          {actor && (
            <button type="button" onClick={logout}>
              {t("logout")}
            </button>
          )}
        </div>
      </header>
      {message && (
        <p role="alert" class="message">
          {message}
        </p>
      )}
      {actor === null && (
        <Login
          api={api}
          t={t}
          onLogin={(a) => {
            setMessage(undefined);
            setActor(a);
          }}
        />
      )}
      {actor && (
        <main id="main" tabIndex={-1}>
          {route.page === "cases" && <CaseList api={api} t={t} lang={lang} box={route.box} onError={onError} />}
          {route.page === "case" && (
            <CasePage api={api} t={t} lang={lang} id={route.id} actor={actor} onError={onError} />
          )}
          {route.page === "new" && <RegisterCase api={api} t={t} onError={onError} />}
        </main>
      )}
    </>
  );
}
