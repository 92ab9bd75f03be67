// What counts as immigration enforcement besides the declared purpose: a federal immigration statute cited
// in the query's own words (case number, justification). The statutes are policy data (purposes.yaml);
// their citations are compiled once into one regular expression. Pure.

export interface Statute {
  /** The citation shown in reasons, e.g. `8 U.S.C. 1326`. */
  readonly cite: string
  /** Other citations of the same law, e.g. `INA 276`. */
  readonly aliases: readonly string[]
  readonly title: string
}

/** Finds the first statute a text cites, or null. */
export type StatuteMatcher = (text: string) => Statute | null

/** A citation's words: runs of letters and digits (`8 U.S.C. § 1326` -> 8, U, S, C, 1326). */
export function citationWords(cite: string): string[] {
  return cite.match(/[A-Za-z0-9]+/g) ?? []
}

/** Why a citation cannot be matched safely, or null: it needs a code or act and a section number. */
export function citationProblem(cite: string): string | null {
  const words = citationWords(cite)
  if (!words.some((word) => /^[0-9]/.test(word)) || !words.some((word) => /^[A-Za-z]/.test(word))) {
    return `${JSON.stringify(cite)} must name a code or act and a section, e.g. 8 U.S.C. 1326 or INA 276 (a bare number would match any case number)`
  }
  return null
}

/** Up to this many spaces or punctuation marks between a citation's words: `C. §§ 1326` has four. */
const separator = '[^A-Za-z0-9]{0,6}'

interface WordTrie {
  readonly next: Map<string, WordTrie>
  /** The statute whose citation ends at this word. */
  statute: number | undefined
}

/**
 * Compiles the statutes' citations into one case-insensitive regular expression, factored as a trie of
 * their words (`8 U.S.C.` is tried once, then the sections), with one capture group per citation end.
 * A citation matches whatever spaces or punctuation separate its words, or none (`8USC1326-1`,
 * `8 U.S.C. § 1326(a)`), but not inside a longer number or word: `18 U.S.C. 1326` and `8 U.S.C. 13261`
 * do not cite 8 U.S.C. 1326. Linear: each separator run is followed by a letter or digit it cannot hold.
 */
export function compileStatuteMatcher(statutes: readonly Statute[]): StatuteMatcher {
  if (statutes.length === 0) return () => null
  const root: WordTrie = { next: new Map(), statute: undefined }
  statutes.forEach((statute, index) => {
    for (const cite of [statute.cite, ...statute.aliases]) {
      let node = root
      for (const word of citationWords(cite)) {
        const key = word.toUpperCase()
        let child = node.next.get(key)
        if (child === undefined) {
          child = { next: new Map(), statute: undefined }
          node.next.set(key, child)
        }
        node = child
      }
      node.statute ??= index
    }
  })
  // Capture groups are numbered in the order their "(" appears, which is the order they are built here.
  const groupStatute: number[] = [-1]
  const alternatives = (node: WordTrie): string => {
    const parts: string[] = []
    // Longer words first, so that 1324A is tried before 1324 (which would match its first four characters).
    for (const [word, child] of [...node.next].sort(([left], [right]) => right.length - left.length)) {
      if (child.next.size > 0) parts.push(`${word}${separator}(?:${alternatives(child)})`)
      if (child.statute !== undefined) {
        groupStatute.push(child.statute)
        parts.push(`(${word})${/[0-9]$/.test(word) ? '(?![0-9])' : '(?![A-Za-z])'}`)
      }
    }
    return parts.join('|')
  }
  const top = [...root.next].map(([word, child]) => {
    const before = /^[0-9]/.test(word) ? '(?<![0-9])' : '(?<![A-Za-z])'
    const single = new Map([[word, child]])
    return `${before}(?:${alternatives({ next: single, statute: undefined })})`
  })
  const pattern = new RegExp(top.join('|'), 'i')
  return (text) => {
    const match = pattern.exec(text)
    if (match === null) return null
    for (let group = 1; group < match.length; group++) if (match[group] !== undefined) return statutes[groupStatute[group]!]!
    return null
  }
}
