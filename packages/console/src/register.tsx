import type { AgencyNameDto, CategoryDto, TransferProfile } from "@sealpost/protocol";
import { useEffect, useState } from "preact/hooks";
import type { ConsoleApi } from "./api.js";
import { Command } from "./copy.js";
import { saveBlob } from "./download.js";
import type { T } from "./i18n.js";

/**
 * Register a case with the seed's fields (作業來源, 接收機關, 筆數, 上傳編號, 備註, 附加檔案, 接收端人員); then download
 * its transfer settings file and see the command that seals and sends the attachment. The attachment never leaves
 * this computer: only its name goes into the command.
 */
export function RegisterCase(props: { api: ConsoleApi; t: T; onError: (e: unknown) => void }) {
  const { api, t } = props;
  const [agencies, setAgencies] = useState<AgencyNameDto[]>([]);
  const [categories, setCategories] = useState<Pick<CategoryDto, "code" | "name">[]>([]);
  const [form, setForm] = useState({
    category: "",
    receivingAgency: "",
    recordCount: "",
    uploadNo: "",
    remarks: "",
    receivers: "",
  });
  const [attachment, setAttachment] = useState<string>("FILE");
  const [profile, setProfile] = useState<TransferProfile | undefined>();

  useEffect(() => {
    api.client.call("listAgencyNames").then(setAgencies).catch(props.onError);
    api.client.call("listActiveCategories").then(setCategories).catch(props.onError);
  }, []);

  const field = (k: keyof typeof form) => ({
    value: form[k],
    onInput: (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value }),
  });
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      const receivers = form.receivers
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      const p = await api.client.call("createCase", {
        body: {
          category: form.category,
          receivingAgency: form.receivingAgency,
          recordCount: Number(form.recordCount),
          uploadNo: form.uploadNo,
          ...(form.remarks ? { remarks: form.remarks } : {}),
          ...(receivers.length ? { receivers } : {}),
        },
      });
      setProfile(p);
    } catch (err) {
      props.onError(err);
    }
  };

  if (profile) {
    const id = profile.case.id;
    return (
      <section aria-labelledby="new-heading">
        <h1 id="new-heading">{t("registered")}</h1>
        <p>
          <a href={`#/case/${encodeURIComponent(id)}`} data-testid="new-case-id">
            {id}
          </a>
        </p>
        <button
          type="button"
          onClick={() =>
            saveBlob(new Blob([JSON.stringify(profile, null, 2)], { type: "application/json" }), `${id}.settings.json`)
          }
        >
          {t("settingsFile")}
        </button>
        <Command
          t={t}
          id="cmd-send-new"
          label={t("sealCommand")}
          command={`sealpost send ${attachment} --case ${id}`}
        />
        <Command
          t={t}
          id="cmd-seal-profile-new"
          label={t("sealProfileCommand")}
          command={`sealpost seal ${attachment} --profile ${id}.settings.json -o ${attachment}.p7m`}
        />
      </section>
    );
  }
  return (
    <section aria-labelledby="new-heading">
      <h1 id="new-heading">{t("newCase")}</h1>
      <form class="form" onSubmit={submit}>
        <label for="f-category">{t("category")}</label>
        <select id="f-category" required {...field("category")}>
          <option value="" />
          {categories.map((c) => (
            <option key={c.code} value={c.code}>
              {c.code} {c.name}
            </option>
          ))}
        </select>
        <label for="f-agency">{t("receiver")}</label>
        <select id="f-agency" required {...field("receivingAgency")}>
          <option value="" />
          {agencies.map((a) => (
            <option key={a.code} value={a.code}>
              {a.code} {a.name}
            </option>
          ))}
        </select>
        <label for="f-records">{t("records")}</label>
        <input id="f-records" type="number" min="0" required {...field("recordCount")} />
        <label for="f-upload">{t("uploadNo")}</label>
        <input id="f-upload" required maxLength={100} {...field("uploadNo")} />
        <label for="f-remarks">{t("remarks")}</label>
        <textarea id="f-remarks" maxLength={4000} {...field("remarks")} />
        <label for="f-attachment">{t("attachment")}</label>
        <input
          id="f-attachment"
          type="file"
          onChange={(e) => setAttachment((e.target as HTMLInputElement).files?.[0]?.name ?? "FILE")}
        />
        <label for="f-receivers">{t("receivers")}</label>
        <input id="f-receivers" {...field("receivers")} />
        <button type="submit">{t("register")}</button>
      </form>
    </section>
  );
}
