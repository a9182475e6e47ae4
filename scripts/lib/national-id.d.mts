/** Types of scripts/lib/national-id.mjs. */
export declare const LETTER_CODES: Readonly<Record<string, number>>;
/** Check digit (0..9) for a letter, 1 or 2 and seven digits. Throws RangeError on another shape. */
export declare function nationalIdCheckDigit(prefix: string): number;
/** True for a well-formed national ID with a valid check digit. */
export declare function isValidNationalId(id: string): boolean;
