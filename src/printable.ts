// Text that operators and terminals supply (agency names, reasons, agreement versions, officer ids),
// printed for people: on a terminal, in the Markdown or CSV misuse report. There a control character
// is not data but a command: an ANSI escape clears the screen or forges colours, a newline or carriage
// return starts a forged row or overwrites one, a bidirectional override reorders what is shown. So
// human-readable output shows each as an escape (`\n`, `\u001b`); JSON output keeps the exact text.

// C0 and C1 controls, DEL, the Unicode line and paragraph separators, and the bidi embeddings,
// overrides and isolates: the contents of a character class, in the escapes both a RegExp and a JSON
// schema pattern read.
const controlCharacters = '\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069'
const controls = new RegExp(`[${controlCharacters}]`, 'g')

/**
 * Free text a person types that others read (a query's or a written request's justification, a
 * requester's name and title), as a JSON schema pattern: no control character at all, and a visible
 * character first. Refused on input where the text is kept for people to read, not only escaped on output.
 */
export const freeTextPattern = `^[^\\s${controlCharacters}][^${controlCharacters}]*$`

const named: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

function escapeControl(char: string): string {
  return named[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`
}

/** The text with every control character shown as a JSON-style escape. */
export function printable(text: string): string {
  return text.replace(controls, escapeControl)
}
