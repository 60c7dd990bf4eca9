// Escaping of text that came from the folder (file names are bytes) before it reaches a terminal,
// a log line, the journal or an error message (DESIGN.md rule 9): one function for all of them.

/**
 * Characters that must not reach a terminal or the journal raw: C0 controls (newline included, so
 * a name cannot start a forged line or a `<0>` journal priority), a `<` before a digit (journald cuts
 * a line past its LineMax, 48 KiB by default, and reads a `<N>` priority at each piece's start:
 * no cut may fall before a name's `<0>`), DEL, C1 controls (0x9b is a CSI
 * for some terminals), the line and paragraph separators, the bidirectional overrides, isolates
 * and marks (text that reads differently than it is), the invisible characters that make one
 * name print as another (soft hyphen, zero-width space, word joiner and invisible operators, the
 * byte order mark, the Mongolian vowel separator, the combining grapheme joiner, the Hangul and
 * Khmer fillers, the deprecated format controls U+206A-206F, the interlinear annotation marks,
 * the tag characters of plane 14 and the invisible musical and shorthand format controls; not the
 * zero-width non-joiner and joiner, which Persian words and emoji sequences need, nor the tags of
 * a well-formed emoji flag tag sequence (a black flag, one to eight tags of lower-case letters or
 * digits, the cancel tag: any other run of tags is text hidden in invisible characters), nor
 * variation selectors), lone UTF-16 surrogates, and U+FFFD,
 * which is what Node makes of a name's invalid UTF-8 bytes when it decodes them. Astral ones are
 * matched as their surrogate pair and escaped as one (`\udb40\udc41`).
 */
const UNSAFE =
  // eslint-disable-next-line no-control-regex -- finding control characters is this module's job
  /\ud83c\udff4(?:\udb40[\udc30-\udc39\udc61-\udc7a]){1,8}\udb40\udc7f|<(?=\d)|[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u115f\u180e\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb\ufffd]|\u034f|\u1160|\u17b4|\u17b5|\ud834[\udd73-\udd7a]|\ud82f[\udca0-\udca3]|\udb40\udc01|\udb40[\udc20-\udc7f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** The same set less C0 and lone surrogates, for JSON text (JSON.stringify has escaped those already). */
const UNSAFE_IN_JSON =
  /\ud83c\udff4(?:\udb40[\udc30-\udc39\udc61-\udc7a]){1,8}\udb40\udc7f|<(?=\d)|[\u007f-\u009f\u00ad\u061c\u115f\u180e\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb\ufffd]|\u034f|\u1160|\u17b4|\u17b5|\ud834[\udd73-\udd7a]|\ud82f[\udca0-\udca3]|\udb40\udc01|\udb40[\udc20-\udc7f]/g;

const SHORT: Record<string, string> = { '\b': '\\b', '\t': '\\t', '\n': '\\n', '\f': '\\f', '\r': '\\r' };

/** One character (or one surrogate pair: both halves) as its JSON-style escape. */
function unicodeEscape(char: string): string {
  const unit = (i: number) => `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return SHORT[char] ?? (char.length === 2 ? unit(0) + unit(1) : unit(0));
}

/** What replaces a match of UNSAFE: a flag's tag sequence stays (the only match longer than a pair), the rest is escaped. */
function escapeMatch(match: string): string {
  return match.length > 2 ? match : unicodeEscape(match);
}

/** Length of the valid UTF-8 sequence at `i`, or 0 when the byte there does not start one. */
function utf8Length(bytes: Uint8Array, i: number): number {
  const b = bytes[i]!;
  if (b < 0x80) return 1;
  const [n, min] =
    b >= 0xc2 && b <= 0xdf ? [2, 0x80] : b >= 0xe0 && b <= 0xef ? [3, 0x800] : b >= 0xf0 && b <= 0xf4 ? [4, 0x10000] : [0, 0];
  if (n === 0 || i + n > bytes.length) return 0;
  let cp = b & (0xff >> (n + 1));
  for (let k = 1; k < n; k++) {
    const c = bytes[i + k]!;
    if ((c & 0xc0) !== 0x80) return 0;
    cp = (cp << 6) | (c & 0x3f);
  }
  // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
  return cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ? 0 : n;
}

/** Decodes bytes as UTF-8, writing each byte that is not part of a valid sequence as `\xNN`. */
function decodeBytes(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const n = utf8Length(bytes, i);
    if (n === 0) {
      out += `\\x${bytes[i]!.toString(16).padStart(2, '0')}`;
      i += 1;
    } else {
      out += Buffer.from(bytes.subarray(i, i + n)).toString('utf8');
      i += n;
    }
  }
  return out;
}

/**
 * Makes text safe to print: every unsafe character (see above) becomes a JSON-style escape
 * (`\n`, `\t`, `\u001b`, `\u009b`, `\ufffd`); a name given as bytes has its invalid UTF-8 bytes
 * written `\xNN`. Backslashes are left as they are, so the function is idempotent: text escaped
 * once (a name inside an error message) passes the log's own escaping unchanged.
 */
export function escapeText(text: string | Uint8Array): string {
  const str = typeof text === 'string' ? text : decodeBytes(text);
  return str.replace(UNSAFE, escapeMatch);
}

/**
 * Makes JSON text (from JSON.stringify) safe to print while keeping it valid JSON with the same
 * value: DEL, C1 and the other invisible characters inside strings become `\uXXXX` escapes.
 * Line breaks of pretty-printed JSON stay.
 */
export function escapeJson(json: string): string {
  return json.replace(UNSAFE_IN_JSON, escapeMatch);
}

/**
 * `text` as one word a POSIX shell reads back as `text`: as it is when it holds nothing a shell
 * treats specially, else in single quotes. For the commands a message suggests (`chmod 600 FILE`),
 * so that a path with a space or a `;` can be pasted as it is printed.
 */
export function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}
