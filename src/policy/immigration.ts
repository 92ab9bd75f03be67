// What counts as a sign of immigration enforcement in a query's own words (case number, justification):
// a federal immigration statute or regulation cited, however it is written, and plain-language terms.
// The statutes and the terms are policy data (purposes.yaml); the patterns are compiled once. Pure.
//
// Every text is read after the same normalisation: Unicode NFKC (full-width digits and letters, ligatures,
// the non-breaking and other odd spaces become their plain forms), then the letters of other scripts that
// look like Latin ones (Cyrillic "С", Greek "Ι") are folded to the Latin letter. A text of printable ASCII
// (nearly every query) skips both: it is already its own normal form.

export interface Statute {
  /** The citation shown in reasons, e.g. `8 U.S.C. 1326`. */
  readonly cite: string
  /** Other citations of the same law, e.g. `INA 276`. */
  readonly aliases: readonly string[]
  readonly title: string
}

/** One citation found in a text: the statute, and the words that cited it as written. */
export interface Citation {
  readonly statute: Statute
  readonly text: string
}

/** Finds every listed statute a text cites, in order (each once), or null when it cites none. */
export type StatuteMatcher = (text: string) => Citation[] | null

/** Letters of other scripts that look like Latin letters, as people (and evasions) type them. */
const confusables: Readonly<Record<string, string>> = {
  // Cyrillic
  А: 'A', В: 'B', С: 'C', Е: 'E', Н: 'H', І: 'I', Ј: 'J', К: 'K', М: 'M', О: 'O', Р: 'P', Ѕ: 'S', Т: 'T', Х: 'X', У: 'Y', Ү: 'Y', Ԁ: 'D', Ԍ: 'G', Ԛ: 'Q', Ԝ: 'W',
  а: 'a', в: 'b', с: 'c', е: 'e', һ: 'h', і: 'i', ј: 'j', к: 'k', м: 'm', о: 'o', р: 'p', ѕ: 's', т: 't', х: 'x', у: 'y', ү: 'y', ԁ: 'd', ԛ: 'q', ԝ: 'w', ո: 'n',
  // Greek
  Α: 'A', Β: 'B', Ϲ: 'C', ϲ: 'c', Ε: 'E', Ζ: 'Z', Η: 'H', Ι: 'I', Κ: 'K', Μ: 'M', Ν: 'N', Ο: 'O', Ρ: 'P', Τ: 'T', Υ: 'Y', Χ: 'X',
  α: 'a', ι: 'i', κ: 'k', ν: 'v', ο: 'o', ρ: 'p', τ: 't', υ: 'u', χ: 'x',
}
const confusablePattern = new RegExp(`[${Object.keys(confusables).join('')}]`, 'gu')
const printableAscii = /^[\x20-\x7e]*$/

/** The text as the matchers read it: look-alike letters folded to Latin ones, around NFKC. */
export function normaliseText(text: string): string {
  if (printableAscii.test(text)) return text
  // Folded before NFKC as well as after: NFKC turns some look-alikes into letters that look like nothing
  // Latin (the lunate sigma Ϲ, which looks like C, becomes Σ).
  const fold = (value: string) => value.replace(confusablePattern, (letter) => confusables[letter]!)
  return fold(fold(text).normalize('NFKC'))
}

/** The end of an abbreviation: no letter follows, unless it is a section marker run on (`8USCSEC1326`). */
const end = String.raw`(?:(?![A-Z])|(?=SEC|PART|PT))`
// The codes a citation names. Each is followed by its sections; `§`, `§§`, `Sec.`, `section(s)`, `part`
// may come between, with any spacing or none.
const usCode = String.raw`(?:U\.?\s*S\.?\s*(?:CODE|C\.?\s*A${end}\.?|C${end}\.?))`
const codes = [
  // 8 U.S.C., 8 USC, 8 U.S. Code, 8 USCA, 8 U.S.C.A.; Title 8, Title 8 U.S.C., Title 8 of the U.S. Code
  String.raw`(?<usc>(?<![0-9])8[\s.]*${usCode}|(?<![A-Z])TITLE\s*8(?![0-9])(?:[\s,]*(?:OF\s+THE\s+)?${usCode})?)`,
  // I.N.A., INA, Immigration and Nationality Act
  String.raw`(?<ina>(?<![A-Z])I\.?\s*N\.?\s*A${end}\.?|\bIMMIGRATION\s+(?:AND|&)\s+NATIONALITY\s+ACT\b)`,
  // 8 CFR, 8 C.F.R.
  String.raw`(?<cfr>(?<![0-9])8[\s.]*C\.?\s*F\.?\s*R${end}\.?)`,
].join('|')
const marker = String.raw`(?:§§?|(?<![A-Z])(?:SECTIONS?|SECS?|PARTS?|PTS?)(?![A-Z])\.?)`
/** A section: 1326, 1324a, 287.7, with subsections (1357(g), 1326(b)(2)) that do not change the law. */
const section = String.raw`\d+[A-Z]?(?:\.\d+)?(?![0-9A-Z])(?:\s*\([0-9A-Z]{1,4}\))*`
/** Several sections in one citation: 1325, 1326; §§ 1325 and 1326; 1324 & 1325. */
const sectionList = String.raw`${section}(?:\s*(?:,|;|&|\bAND\b|\bOR\b)\s*${marker}?\s*${section})*`
/** Between a code and its sections: the marker may run on from the code (`8USCSection1326`). */
const separator = String.raw`[\s,:.]*(?:(?:§§?|(?:SECTIONS?|SECS?|PARTS?|PTS?)(?![A-Z])\.?)[\s.]*)?`
/** `8 U.S.C. § 1326`, `INA 276`, `Title 8 sec 1326`; and, section first, `section 1326 of title 8`. */
const citationPattern = new RegExp(
  String.raw`(?:${codes})${separator}(?<sections>${sectionList})|(?:${marker}\s*(?<before>${sectionList})\s*(?:OF\s+(?:THE\s+)?)?(?:(?<usc2>(?<![A-Z])TITLE\s*8(?![0-9])|(?<![0-9])8[\s.]*${usCode})|(?<ina2>(?<![A-Z])I\.?\s*N\.?\s*A${end}\.?|\bIMMIGRATION\s+(?:AND|&)\s+NATIONALITY\s+ACT\b)))`,
  'giu',
)
const sectionPattern = new RegExp(String.raw`\d+[A-Z]?(?:\.\d+)?(?![0-9A-Z])`, 'giu')

export type CitedCode = 'usc' | 'ina' | 'cfr'
/** What every citation holds somewhere: 8 then U or C, INA, the Act's name, or Title. */
const mayCite = /8[\s.]*[UC]|(?<![A-Z])I\.?\s*N\.?\s*A|NATIONALITY|TITLE/i
const noSections: readonly { key: string; text: string }[] = Object.freeze([])

/** Every (code, section) a text cites, as `usc:1326`, `ina:287`, `cfr:287.7`, with the words of each citation. */
export function citedSections(text: string): readonly { key: string; text: string }[] {
  // Most texts hold no code a citation needs: one cheap pattern says so before the full one runs.
  if (!mayCite.test(text)) return noSections
  const found: { key: string; text: string }[] = []
  citationPattern.lastIndex = 0
  for (let match = citationPattern.exec(text); match !== null; match = citationPattern.exec(text)) {
    const groups = match.groups!
    const code: CitedCode = groups.usc !== undefined || groups.usc2 !== undefined ? 'usc' : groups.cfr !== undefined ? 'cfr' : 'ina'
    const list = groups.sections ?? groups.before!
    for (const number of list.match(sectionPattern) ?? []) found.push({ key: `${code}:${number.toUpperCase()}`, text: match[0].trim() })
  }
  return found
}

/** Why a listed citation cannot be matched, or null: it must read as exactly one section of one code. */
export function citationProblem(cite: string): string | null {
  const sections = citedSections(normaliseText(cite))
  if (sections.length !== 1) {
    return `${JSON.stringify(cite)} must cite one section of 8 U.S.C., the INA or 8 CFR, e.g. 8 U.S.C. 1326, INA 276 or 8 CFR 287.7 (a bare number would match any case number)`
  }
  return null
}

/** The key a listed citation is matched by (`usc:1326`); citationProblem must have accepted it. */
export function citationKey(cite: string): string {
  return citedSections(normaliseText(cite))[0]!.key
}

/**
 * Compiles the statutes' citations into a matcher. A citation matches however it is spaced or punctuated
 * (`8USC1326-1`, `8 U.S.C. §§ 1325, 1326`, `I.N.A. 276`, `Title 8 sec 1326`), but a section inside a
 * longer number or with another letter does not: `18 U.S.C. 1326`, `8 U.S.C. 13261` and `8 U.S.C. 1324a`
 * do not cite 8 U.S.C. 1324 (1324a is its own entry). A bare section number (`1326`) is no citation.
 */
export function compileStatuteMatcher(statutes: readonly Statute[]): StatuteMatcher {
  const byKey = new Map<string, Statute>()
  for (const statute of statutes) for (const cite of [statute.cite, ...statute.aliases]) byKey.set(citationKey(cite), statute)
  return (text) => {
    let found: Citation[] | null = null
    for (const { key, text: words } of citedSections(normaliseText(text))) {
      const statute = byKey.get(key)
      if (statute === undefined || found?.some((citation) => citation.statute === statute)) continue
      ;(found ??= []).push({ statute, text: words.slice(0, 200) })
    }
    return found
  }
}

/** Finds the plain-language terms a text uses (each once, as written), or null. */
export type TermMatcher = (text: string) => string[] | null

/** An alien registration number (A-number): A, then 8 or 9 digits, perhaps in groups (A-123-456-789). */
const aNumberShape = String.raw`A[-\s#]?(?:\d{3}[-\s]?\d{3}[-\s]?\d{3}|\d{2}[-\s]?\d{3}[-\s]?\d{3})`

/**
 * Compiles the terms into one pattern matched on whole words: `ICE` is not found in "price" or
 * "Iced". A term written in capitals (an acronym: ICE, ERO, HSI) matches only in capitals, so the ice
 * on a road is not U.S. Immigration and Customs Enforcement; any other term matches in any case. A space
 * in a term matches any run of spaces, hyphens or punctuation (`removal order`, `removal-order`).
 */
export function compileTermMatcher(terms: readonly string[], aNumbers: boolean): TermMatcher {
  const escape = (term: string) =>
    term
      .trim()
      .split(/[\s-]+/)
      .map((word) => word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join(String.raw`[\s\-_.,/]+`)
  const acronyms = new Set(terms.filter((term) => /^[A-Z0-9-]+$/.test(term) && /[A-Z]/.test(term)))
  const alternatives = [...terms].sort((left, right) => right.length - left.length).map(escape)
  if (aNumbers) alternatives.push(aNumberShape)
  if (alternatives.length === 0) return () => null
  // One case-insensitive pattern with no lookbehind, so the engine skips quickly to a possible first
  // letter; the word edges and the capitals of an acronym are checked on each match found.
  const pattern = new RegExp(alternatives.join('|'), 'gi')
  return (text) => {
    const normal = normaliseText(text)
    let found: string[] | null = null
    pattern.lastIndex = 0
    for (let match = pattern.exec(normal); match !== null; match = pattern.exec(normal)) {
      const words = match[0]
      const end = match.index + words.length
      if (wordLike.test(normal.charAt(match.index - 1)) || wordLike.test(normal.charAt(end)) || (acronyms.has(words.toUpperCase()) && !acronyms.has(words))) {
        pattern.lastIndex = match.index + 1 // a shorter term may still start here or just after
        continue
      }
      if (!(found ??= []).includes(words)) found.push(words)
    }
    return found
  }
}

/** A letter or digit, ASCII or not: what may not touch a term on either side. */
const wordLike = /^[A-Za-z0-9\u00AA-\uFFFF]$/

/** Words that say nothing about a case beside a citation: "violation of 8 USC 1326" is about 1326. */
const fillers = /\b(?:VIOLATIONS?|VIOL|OF|RE|PER|UNDER|SUSPECTED|SUSPECT|CASE|INVESTIGATION|INV|CHARGE|CHARGES|CHARGED|SEE|THE|AND|OR)\b/giu

/**
 * True when a text is nothing but citations (and words such as "violation of"): a justification that
 * names only an immigration law is about it, not one that mentions it among other facts.
 */
export function onlyCitations(text: string): boolean {
  const normal = normaliseText(text)
  citationPattern.lastIndex = 0
  return normal.replace(citationPattern, ' ').replace(fillers, ' ').replace(/[^\p{L}\p{N}]+/gu, '') === ''
}
