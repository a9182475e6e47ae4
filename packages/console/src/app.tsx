import type { ActorDto } from "@sealpost/protocol";
import { useEffect, useState } from "preact/hooks";
import { AgenciesPage } from "./admin-agencies.js";
import { CategoriesPage } from "./admin-categories.js";
import { CertificatesPage } from "./admin-certificates.js";
import { StaffPage } from "./admin-staff.js";
import { ConsoleApi } from "./api.js";
import { DropsPage } from "./ops-drops.js";
import { CasePage } from "./case.js";
import { type Box, CaseList } from "./cases.js";
import { initialLang, type Lang, saveLang, translator } from "./i18n.js";
import { Login } from "./login.js";
import { RegisterCase } from "./register.js";

/** The admin pages, by their place (#/admin/NAME). */
const ADMIN_PAGES = ["agencies", "staff", "certificates", "categories"] as const;
type AdminPage = (typeof ADMIN_PAGES)[number];

/**
 * The page's place, from the URL's hash: #/inbox, #/outbox, #/cases, #/case/ID, #/new (staff); #/admin/NAME
 * (admins). An empty or unknown place is the role's first page.
 */
type Route =
  | { page: "cases"; box: Box }
  | { page: "case"; id: string }
  | { page: "new" }
  | { page: "admin"; name: AdminPage }
  | { page: "drops" }
  | { page: "home" };

function routeOf(hash: string): Route {
  const m = /^#\/case\/(.+)$/.exec(hash);
  if (m) return { page: "case", id: decodeURIComponent(m[1]!) };
  const a = /^#\/admin\/(\w+)$/.exec(hash);
  if (a && (ADMIN_PAGES as readonly string[]).includes(a[1]!)) return { page: "admin", name: a[1] as AdminPage };
  if (hash === "#/new") return { page: "new" };
  if (hash === "#/ops/drops") return { page: "drops" };
  if (hash === "#/inbox") return { page: "cases", box: "inbox" };
  if (hash === "#/outbox") return { page: "cases", box: "outbox" };
  if (hash === "#/cases") return { page: "cases", box: "all" };
  return { page: "home" };
}

/** The first page of a role. */
const homeOf = (role: ActorDto["role"]): Route =>
  role === "admin"
    ? { page: "admin", name: "agencies" }
    : role === "ops"
      ? { page: "drops" }
      : { page: "cases", box: "inbox" };

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

  const here: Route = actor && route.page === "home" ? homeOf(actor.role) : route;
  return (
    <>
      <a class="skip" href="#main">
        {t("skip")}
      </a>
      <header>
        <span class="brand">{t("title")}</span>
        {actor && (
          <nav aria-label={t("nav")}>
            {actor.role === "staff" && (
              <>
                <a href="#/inbox" aria-current={here.page === "cases" && here.box === "inbox" ? "page" : undefined}>
                  {t("inbox")}
                </a>
                <a href="#/outbox" aria-current={here.page === "cases" && here.box === "outbox" ? "page" : undefined}>
                  {t("outbox")}
                </a>
                <a href="#/cases" aria-current={here.page === "cases" && here.box === "all" ? "page" : undefined}>
                  {t("allCases")}
                </a>
                <a href="#/new" aria-current={here.page === "new" ? "page" : undefined}>
                  {t("newCase")}
                </a>
              </>
            )}
            {actor.role === "admin" &&
              ADMIN_PAGES.map((p) => (
                <a
                  key={p}
                  href={`#/admin/${p}`}
                  aria-current={here.page === "admin" && here.name === p ? "page" : undefined}
                >
                  {t(p)}
                </a>
              ))}
            {actor.role === "ops" && (
              <a href="#/ops/drops" aria-current={here.page === "drops" ? "page" : undefined}>
                {t("drops")}
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
          {here.page === "cases" && <CaseList api={api} t={t} lang={lang} box={here.box} onError={onError} />}
          {here.page === "case" && (
            <CasePage api={api} t={t} lang={lang} id={here.id} actor={actor} onError={onError} />
          )}
          {here.page === "new" && <RegisterCase api={api} t={t} onError={onError} />}
          {here.page === "admin" && here.name === "agencies" && <AgenciesPage api={api} t={t} onError={onError} />}
          {here.page === "admin" && here.name === "staff" && <StaffPage api={api} t={t} onError={onError} />}
          {here.page === "admin" && here.name === "certificates" && (
            <CertificatesPage api={api} t={t} lang={lang} onError={onError} />
          )}
          {here.page === "admin" && here.name === "categories" && <CategoriesPage api={api} t={t} onError={onError} />}
          {here.page === "drops" && <DropsPage api={api} t={t} lang={lang} onError={onError} />}
        </main>
      )}
    </>
  );
}
