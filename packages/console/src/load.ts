import { useEffect, useState } from "preact/hooks";

/**
 * Loads `fetch()` when the page opens and again after each `reload()`; `data` is undefined until the first answer.
 * Errors go to `onError` (the app's message line); a stale answer (after the page changed) is dropped.
 */
export function useLoad<T>(
  fetch: () => Promise<T>,
  onError: (e: unknown) => void,
  deps: unknown[] = [],
): { data: T | undefined; reload: () => void } {
  const [data, setData] = useState<T | undefined>();
  const [round, setRound] = useState(0);
  useEffect(() => {
    let stale = false;
    fetch()
      .then((d) => !stale && setData(d))
      .catch(onError);
    return () => {
      stale = true;
    };
  }, [round, ...deps]);
  return { data, reload: () => setRound((r) => r + 1) };
}

/** The lines of a text area as a list: trimmed, empty lines and commas dropped. */
export const linesOf = (text: string): string[] =>
  text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
