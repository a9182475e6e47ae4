import { useState } from "preact/hooks";
import type { T } from "./i18n.js";

/** A command the user runs on their own computer, with a copy button. */
export function Command(props: { t: T; label: string; command: string; id: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.command);
      setCopied(true);
      setTimeout(() => setCopied(false), 2000);
    } catch {
      // No clipboard permission: the command stays selectable.
    }
  };
  return (
    <div class="command">
      <label for={props.id}>{props.label}</label>
      <div class="command-row">
        <input id={props.id} class="command-text" readOnly value={props.command} />
        <button type="button" onClick={copy} aria-describedby={props.id}>
          {copied ? props.t("copied") : props.t("copy")}
        </button>
      </div>
    </div>
  );
}
