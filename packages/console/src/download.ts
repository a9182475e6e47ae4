/** Saves `blob` as a file named `name` through a temporary object URL (no inline script, CSP-safe). */
export function saveBlob(blob: Blob, name: string): void {
  const href = URL.createObjectURL(blob);
  saveUrl(href, name);
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}

/**
 * Saves what `href` (same origin) answers as a file named `name` by letting the browser follow a download link:
 * the browser streams the body to disk, so a file of any size never sits in the page's memory.
 */
export function saveUrl(href: string, name: string): void {
  const a = document.createElement("a");
  a.href = href;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
}
