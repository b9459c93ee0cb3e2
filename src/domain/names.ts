// One rule for every name a user gives Tiller: access tokens, transformations, libraries and
// workspaces. Names are shown in lists, logs, the dashboard and terminals, so they must be one
// line of visible text: nothing that moves the cursor, rewrites a terminal line, reorders what is
// displayed (bidi overrides) or hides in it (zero-width characters).

import { invalid } from './errors.js';

/** Spec section 2.1: "1 to 100 characters after trimming". */
export const MAX_TOKEN_NAME_CHARS = 100;
/** Transformations, libraries and workspaces (their columns hold 200 characters or more). */
export const MAX_NAME_CHARS = 200;

// Control (Cc: C0, DEL, C1, so tabs and newlines too) and format characters (Cf: bidi controls,
// zero-width space and joiners, soft hyphen, tags...), line and paragraph separators, and, with the
// u flag, an unpaired surrogate (Cs: the text is not valid Unicode and could not round-trip).
// Private-use (Co) and unassigned (Cn) code points render as nothing or as boxes.
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}]/u;
// A name needs one character that shows: fillers such as U+3164 or the blank Braille cell are
// neither whitespace nor control characters, yet show nothing.
const VISIBLE = /[^\s\p{Default_Ignorable_Code_Point}\u2800]/u;

/** Length in characters (code points), as people count them, rather than UTF-16 units. */
export const codePoints = (text: string): number => {
  let count = 0;
  for (const _ of text) count++;
  return count;
};

/**
 * A name as stored and matched: trimmed of surrounding whitespace, then 1 to `maxChars` characters
 * (code points, not UTF-16 units) of printable Unicode. Every failure is the same 400
 * `invalid_field` naming the field, whichever kind of name it is.
 */
export function validName(raw: string, maxChars: number, field = 'name'): string {
  const name = raw.trim();
  if (name.length === 0) throw invalid('invalid_field', `${field} must not be empty`, { field });
  if (codePoints(name) > maxChars) throw invalid('invalid_field', `${field} must be at most ${maxChars} characters`, { field });
  const bad = UNPRINTABLE.exec(name);
  if (bad) {
    const codePoint = `U+${bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    throw invalid('invalid_field', `${field} must be printable Unicode text without control or format characters (it has ${codePoint})`, { field });
  }
  if (!VISIBLE.test(name)) throw invalid('invalid_field', `${field} must contain a visible character`, { field });
  return name;
}
