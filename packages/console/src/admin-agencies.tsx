import type { AgencyDto } from "@sealpost/protocol";
import { useState } from "preact/hooks";
import type { ConsoleApi } from "./api.js";
import type { T } from "./i18n.js";
import { linesOf, useLoad } from "./load.js";

/** One agency's IP allow-list, edited in place (one CIDR or address a line; empty: any address). */
function AllowList(props: {
  api: ConsoleApi;
  t: T;
  agency: AgencyDto;
  onSaved: () => void;
  onError: (e: unknown) => void;
}) {
  const { api, t, agency } = props;
  const [text, setText] = useState(agency.allowCidrs.join("\n"));
  const id = `allow-${agency.code}`;
  const save = async (e: Event) => {
    e.preventDefault();
    try {
      await api.client.call("updateAgency", { params: { code: agency.code }, body: { allowCidrs: linesOf(text) } });
      props.onSaved();
    } catch (err) {
      props.onError(err);
    }
  };
  return (
    <form onSubmit={save} class="inline">
      <label for={id}>
        {t("allowList")} {agency.code}
      </label>
      <textarea id={id} rows={2} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
      <button type="submit">{t("save")}</button>
    </form>
  );
}

/** Admin: the agencies (code, name, notice e-mail, IP allow-list, active), register one, edit its allow-list, withdraw it. */
export function AgenciesPage(props: { api: ConsoleApi; t: T; onError: (e: unknown) => void }) {
  const { api, t } = props;
  const { data, reload } = useLoad(() => api.client.call("listAgencies"), props.onError);
  const [form, setForm] = useState({ code: "", name: "", email: "", allow: "" });
  const [status, setStatus] = useState<string | undefined>();
  const field = (k: keyof typeof form) => ({
    value: form[k],
    onInput: (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value }),
  });
  const add = async (e: Event) => {
    e.preventDefault();
    try {
      const a = await api.client.call("addAgency", {
        body: {
          code: form.code.trim(),
          name: form.name.trim(),
          email: form.email.trim(),
          allowCidrs: linesOf(form.allow),
        },
      });
      setStatus(`${t("agencyAdded")}${a.code}`);
      setForm({ code: "", name: "", email: "", allow: "" });
      reload();
    } catch (err) {
      props.onError(err);
    }
  };
  const withdraw = async (code: string) => {
    try {
      await api.client.call("deactivateAgency", { params: { code } });
      reload();
    } catch (err) {
      props.onError(err);
    }
  };
  return (
    <section aria-labelledby="agencies-heading">
      <h1 id="agencies-heading">{t("agencies")}</h1>
      {status && (
        <p role="status" class="status">
          {status}
        </p>
      )}
      {!data && <p role="status">{t("loading")}</p>}
      {data && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t("code")}</th>
              <th scope="col">{t("name")}</th>
              <th scope="col">{t("email")}</th>
              <th scope="col">{t("allowList")}</th>
              <th scope="col">{t("active")}</th>
              <th scope="col">{t("actions")}</th>
            </tr>
          </thead>
          <tbody>
            {data.map((a) => (
              <tr key={a.code} data-testid={`agency-${a.code}`}>
                <td>{a.code}</td>
                <td>{a.name}</td>
                <td>{a.email}</td>
                <td>
                  <AllowList api={api} t={t} agency={a} onSaved={reload} onError={props.onError} />
                </td>
                <td>{a.active ? t("yes") : t("withdrawn")}</td>
                <td>
                  {a.active && (
                    <button type="button" onClick={() => withdraw(a.code)} aria-label={`${t("withdraw")} ${a.code}`}>
                      {t("withdraw")}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <section aria-labelledby="agency-new-heading">
        <h2 id="agency-new-heading">{t("agencyNew")}</h2>
        <form class="form" onSubmit={add}>
          <label for="ag-code">{t("code")}</label>
          <input id="ag-code" required maxLength={64} pattern="[A-Za-z0-9][A-Za-z0-9._\-]*" {...field("code")} />
          <label for="ag-name">{t("name")}</label>
          <input id="ag-name" required maxLength={200} {...field("name")} />
          <label for="ag-email">{t("email")}</label>
          <input id="ag-email" type="email" required {...field("email")} />
          <label for="ag-allow">{t("allowListHelp")}</label>
          <textarea id="ag-allow" rows={2} {...field("allow")} />
          <button type="submit">{t("agencyAdd")}</button>
        </form>
      </section>
    </section>
  );
}
