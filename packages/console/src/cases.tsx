import { CASE_STATES, type CaseDto, type CaseListQuery, type CaseState } from "@sealpost/protocol";
import { useEffect, useState } from "preact/hooks";
import type { ConsoleApi } from "./api.js";
import { type Lang, stateName, type T } from "./i18n.js";

export type Box = "inbox" | "outbox" | "all";
const PAGE = 20;
/** How many cases a search looks through (newest first). */
const SEARCH_LIMIT = 2000;

/** The case list: inbox, outbox or both, filtered by state, searched by case id or upload number, a page at a time. */
export function CaseList(props: { api: ConsoleApi; t: T; lang: Lang; box: Box; onError: (e: unknown) => void }) {
  const { api, t, lang, box } = props;
  const [state, setState] = useState<CaseState | "">("");
  const [cursors, setCursors] = useState<string[]>([]);
  const [page, setPage] = useState<{ cases: CaseDto[]; nextCursor: string | null } | undefined>();
  const [search, setSearch] = useState("");
  const [searched, setSearched] = useState<CaseDto[] | undefined>();

  const query = (): CaseListQuery => ({
    ...(box !== "all" ? { box } : {}),
    ...(state ? { state } : {}),
  });

  useEffect(() => {
    setCursors([]);
    setSearched(undefined);
  }, [box, state]);

  useEffect(() => {
    let stale = false;
    setPage(undefined);
    const before = cursors[cursors.length - 1];
    api.client
      .listCasesPage({ ...query(), limit: PAGE, ...(before ? { before } : {}) })
      .then((p) => !stale && setPage(p))
      .catch(props.onError);
    return () => {
      stale = true;
    };
  }, [box, state, cursors]);

  const runSearch = async (e: Event) => {
    e.preventDefault();
    const q = search.trim().toLowerCase();
    if (!q) {
      setSearched(undefined);
      return;
    }
    const found: CaseDto[] = [];
    let seen = 0;
    try {
      for await (const c of api.client.allCases({ ...query(), limit: 500 })) {
        if (c.id.toLowerCase().includes(q) || c.uploadNo.toLowerCase().includes(q)) found.push(c);
        if (++seen >= SEARCH_LIMIT) break;
      }
      setSearched(found);
    } catch (err) {
      props.onError(err);
    }
  };

  const shown = searched ?? page?.cases;
  return (
    <section aria-labelledby="cases-heading">
      <h1 id="cases-heading">{t(box === "inbox" ? "inbox" : box === "outbox" ? "outbox" : "allCases")}</h1>
      <div class="filters">
        <label>
          {t("stateFilter")}{" "}
          <select value={state} onChange={(e) => setState((e.target as HTMLSelectElement).value as CaseState | "")}>
            <option value="">{t("anyState")}</option>
            {(Object.keys(CASE_STATES) as CaseState[]).map((s) => (
              <option value={s} key={s}>
                {stateName(lang, s)}
              </option>
            ))}
          </select>
        </label>
        <search>
          <form onSubmit={runSearch}>
            <label for="case-search">{t("search")}</label>{" "}
            <input
              id="case-search"
              type="search"
              value={search}
              onInput={(e) => setSearch((e.target as HTMLInputElement).value)}
            />
            <button type="submit">{t("searchButton")}</button>
          </form>
        </search>
      </div>
      {!shown && <p role="status">{t("loading")}</p>}
      {shown && shown.length === 0 && <p>{t("noCases")}</p>}
      {shown && shown.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t("caseId")}</th>
              <th scope="col">{t("category")}</th>
              <th scope="col">{t("sender")}</th>
              <th scope="col">{t("receiver")}</th>
              <th scope="col">{t("records")}</th>
              <th scope="col">{t("uploadNo")}</th>
              <th scope="col">{t("state")}</th>
              <th scope="col">{t("updated")}</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((c) => (
              <tr key={c.id}>
                <td>
                  <a href={`#/case/${encodeURIComponent(c.id)}`}>{c.id}</a>
                </td>
                <td>{c.category}</td>
                <td>{c.senderAgency}</td>
                <td>{c.receivingAgency}</td>
                <td>{c.recordCount}</td>
                <td>{c.uploadNo}</td>
                <td>{stateName(lang, c.state)}</td>
                <td>
                  <time dateTime={c.updatedAt}>{new Date(c.updatedAt).toLocaleString(lang)}</time>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {!searched && (
        <nav class="pager" aria-label={t("casesHeading")}>
          {cursors.length > 0 && (
            <button type="button" onClick={() => setCursors([])}>
              {t("firstPage")}
            </button>
          )}
          {page?.nextCursor && (
            <button type="button" onClick={() => setCursors([...cursors, page.nextCursor!])}>
              {t("nextPage")}
            </button>
          )}
        </nav>
      )}
    </section>
  );
}
