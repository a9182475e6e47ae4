import { useState } from "preact/hooks";
import type { ConsoleApi } from "./api.js";
import type { T } from "./i18n.js";
import { useLoad } from "./load.js";

/** Admin: transfer categories (作業來源) with their lawful purpose; add one, retire one. */
export function CategoriesPage(props: { api: ConsoleApi; t: T; onError: (e: unknown) => void }) {
  const { api, t } = props;
  const { data, reload } = useLoad(() => api.client.call("listCategories"), props.onError);
  const [form, setForm] = useState({ code: "", name: "", purpose: "" });
  const field = (k: keyof typeof form) => ({
    value: form[k],
    onInput: (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value }),
  });
  const add = async (e: Event) => {
    e.preventDefault();
    try {
      await api.client.call("addCategory", {
        body: { code: form.code.trim(), name: form.name.trim(), purpose: form.purpose.trim() },
      });
      setForm({ code: "", name: "", purpose: "" });
      reload();
    } catch (err) {
      props.onError(err);
    }
  };
  const retire = async (code: string) => {
    try {
      await api.client.call("deactivateCategory", { params: { code } });
      reload();
    } catch (err) {
      props.onError(err);
    }
  };
  return (
    <section aria-labelledby="categories-heading">
      <h1 id="categories-heading">{t("categories")}</h1>
      {!data && <p role="status">{t("loading")}</p>}
      {data && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t("code")}</th>
              <th scope="col">{t("name")}</th>
              <th scope="col">{t("purpose")}</th>
              <th scope="col">{t("active")}</th>
              <th scope="col">{t("actions")}</th>
            </tr>
          </thead>
          <tbody>
            {data.map((c) => (
              <tr key={c.code}>
                <td>{c.code}</td>
                <td>{c.name}</td>
                <td>{c.purpose}</td>
                <td>{c.active ? t("yes") : t("retired")}</td>
                <td>
                  {c.active && (
                    <button type="button" onClick={() => retire(c.code)} aria-label={`${t("retire")} ${c.code}`}>
                      {t("retire")}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <section aria-labelledby="category-new-heading">
        <h2 id="category-new-heading">{t("categoryNew")}</h2>
        <form class="form" onSubmit={add}>
          <label for="cat-code">{t("code")}</label>
          <input id="cat-code" required maxLength={64} {...field("code")} />
          <label for="cat-name">{t("name")}</label>
          <input id="cat-name" required maxLength={200} {...field("name")} />
          <label for="cat-purpose">{t("purpose")}</label>
          <textarea id="cat-purpose" required maxLength={4000} {...field("purpose")} />
          <button type="submit">{t("categoryAdd")}</button>
        </form>
      </section>
    </section>
  );
}
