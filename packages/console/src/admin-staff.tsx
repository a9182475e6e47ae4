import type { Role } from "@sealpost/protocol";
import { useState } from "preact/hooks";
import type { ConsoleApi } from "./api.js";
import type { T } from "./i18n.js";
import { useLoad } from "./load.js";

/** Admin: staff of every agency (or one), register a staff member with a role, deactivate or reactivate one. */
export function StaffPage(props: { api: ConsoleApi; t: T; onError: (e: unknown) => void }) {
  const { api, t } = props;
  const [agency, setAgency] = useState("");
  const agencies = useLoad(() => api.client.call("listAgencies"), props.onError);
  const { data, reload } = useLoad(
    () => api.client.call("listStaff", agency ? { query: { agency } } : {}),
    props.onError,
    [agency],
  );
  const [form, setForm] = useState({ agency: "", name: "", email: "", role: "staff" as Role });
  const [status, setStatus] = useState<string | undefined>();
  const field = (k: keyof typeof form) => ({
    value: form[k],
    onInput: (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value }),
  });
  const add = async (e: Event) => {
    e.preventDefault();
    try {
      const s = await api.client.call("addStaff", {
        body: { agency: form.agency, name: form.name.trim(), email: form.email.trim(), role: form.role },
      });
      setStatus(`${t("staffAdded")}${s.name} <${s.email}>`);
      setForm({ ...form, name: "", email: "" });
      reload();
    } catch (err) {
      props.onError(err);
    }
  };
  const setActive = async (id: string, active: boolean) => {
    try {
      await api.client.call(active ? "activateStaff" : "deactivateStaff", { params: { id } });
      reload();
    } catch (err) {
      props.onError(err);
    }
  };
  const activeAgencies = (agencies.data ?? []).filter((a) => a.active);
  return (
    <section aria-labelledby="staff-heading">
      <h1 id="staff-heading">{t("staff")}</h1>
      {status && (
        <p role="status" class="status">
          {status}
        </p>
      )}
      <div class="filters">
        <label>
          {t("agency")}{" "}
          <select value={agency} onChange={(e) => setAgency((e.target as HTMLSelectElement).value)}>
            <option value="">{t("allAgencies")}</option>
            {(agencies.data ?? []).map((a) => (
              <option key={a.code} value={a.code}>
                {a.code} {a.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      {!data && <p role="status">{t("loading")}</p>}
      {data && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t("name")}</th>
              <th scope="col">{t("email")}</th>
              <th scope="col">{t("agency")}</th>
              <th scope="col">{t("role")}</th>
              <th scope="col">{t("active")}</th>
              <th scope="col">{t("actions")}</th>
            </tr>
          </thead>
          <tbody>
            {data.map((s) => (
              <tr key={s.id}>
                <td>{s.name}</td>
                <td>{s.email}</td>
                <td>{s.agency}</td>
                <td>{s.role}</td>
                <td>{s.active ? t("yes") : t("no")}</td>
                <td>
                  <button
                    type="button"
                    onClick={() => setActive(s.id, !s.active)}
                    aria-label={`${s.active ? t("deactivate") : t("activate")} ${s.email}`}
                  >
                    {s.active ? t("deactivate") : t("activate")}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <section aria-labelledby="staff-new-heading">
        <h2 id="staff-new-heading">{t("staffNew")}</h2>
        <form class="form" onSubmit={add}>
          <label for="st-agency">{t("agency")}</label>
          <select id="st-agency" required {...field("agency")}>
            <option value="" />
            {activeAgencies.map((a) => (
              <option key={a.code} value={a.code}>
                {a.code} {a.name}
              </option>
            ))}
          </select>
          <label for="st-name">{t("name")}</label>
          <input id="st-name" required maxLength={200} {...field("name")} />
          <label for="st-email">{t("email")}</label>
          <input id="st-email" type="email" required {...field("email")} />
          <label for="st-role">{t("role")}</label>
          <select id="st-role" {...field("role")}>
            <option value="staff">staff</option>
            <option value="admin">admin</option>
            <option value="ops">ops</option>
          </select>
          <button type="submit">{t("staffAdd")}</button>
        </form>
      </section>
    </section>
  );
}
