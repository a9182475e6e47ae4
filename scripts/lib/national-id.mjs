// Taiwan national identification number (國民身分證統一編號): one letter (the registering city or county), a sex digit
// (1 male, 2 female) and eight digits, the last a check digit. The check uses the published algorithm: the letter
// becomes a two-digit code (A=10 ... Z=33, in the historical order below), the eleven digits are weighted
// 1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1 and the weighted sum must be a multiple of 10.
// Test-data tooling: numbers produced here are random and used only as fictional test data.

/** Two-digit code of each region letter (A 臺北市 10, ..., E 高雄市 14, ..., S 高雄縣 26, ..., Z 連江縣 33). */
export const LETTER_CODES = Object.freeze({
  A: 10,
  B: 11,
  C: 12,
  D: 13,
  E: 14,
  F: 15,
  G: 16,
  H: 17,
  I: 34,
  J: 18,
  K: 19,
  L: 20,
  M: 21,
  N: 22,
  O: 35,
  P: 23,
  Q: 24,
  R: 25,
  S: 26,
  T: 27,
  U: 28,
  V: 29,
  W: 32,
  X: 30,
  Y: 31,
  Z: 33,
});

const WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 1];

/**
 * The check digit for the first nine characters of an ID (letter, sex digit, seven serial digits).
 * Throws a RangeError when the prefix is not of that shape.
 * @param {string} prefix e.g. "E12345678"
 * @returns {number} 0..9
 */
export function nationalIdCheckDigit(prefix) {
  if (!/^[A-Z][12][0-9]{7}$/.test(prefix))
    throw new RangeError("national ID prefix must be a letter, 1 or 2, and 7 digits");
  const code = LETTER_CODES[prefix[0]];
  let sum = Math.floor(code / 10) + (code % 10) * 9;
  for (let i = 0; i < 8; i++) sum += Number(prefix[i + 1]) * WEIGHTS[i];
  return (10 - (sum % 10)) % 10;
}

/**
 * True when `id` is a well-formed national ID with a valid check digit (upper-case letter, 1 or 2, eight digits).
 * @param {string} id
 * @returns {boolean}
 */
export function isValidNationalId(id) {
  if (typeof id !== "string" || !/^[A-Z][12][0-9]{8}$/.test(id)) return false;
  return nationalIdCheckDigit(id.slice(0, 9)) === Number(id[9]);
}
