// One identity per person. A token's `sub` is the identity provider's spelling of a user id; the same
// person may reach the gateway as `l8-officer`, `L8-OFFICER` or `ｌ8-officer` (full-width letters). A
// sanction, a rate allowance, a misuse signal and a written request bind the person, so each compares
// the folded id, never the spelling: Unicode NFKC (compatibility forms become their plain letters:
// full-width `ｌ` is `l`, the Kelvin sign is `K`), then lower case (String.prototype.toLowerCase, which
// is locale-independent). The folded id must be a user id (subPattern: 1 to 128 printable ASCII
// characters, no space); a spelling that folds to anything else names nobody. Folding is done once per
// token (when it is verified; the identity is cached with it) and once per admin call, never per query.
// docs/identity.md is the user's account of these rules.
import { subPattern, type OfficerState } from './types.js'

/** The longest spelling folded: NFKC may lengthen a string, and the folded id is at most 128 characters anyway. */
const maxSpellingLength = 128

/** A spelling already folded: printable ASCII without capitals (most tokens' subs): no normalization needed. */
const foldedAscii = /^[\x21-\x40\x5b-\x7e]{1,128}$/

/**
 * The user id a spelling names (NFKC, then lower case), or null when it names no valid user id (empty,
 * too long, or folding to characters outside printable ASCII). Idempotent: a folded id folds to itself.
 */
export function foldUserId(spelling: string): string | null {
  if (foldedAscii.test(spelling)) return spelling
  if (spelling.length === 0 || spelling.length > maxSpellingLength) return null
  const folded = spelling.normalize('NFKC').toLowerCase()
  return subPattern.test(folded) ? folded : null
}

/**
 * Of two stored states of one officer written under different spellings (before folding, two records),
 * the one that binds: a sanction over none (fail closed: a spelling's reinstatement never lifts another
 * spelling's sanction), and of two sanctions the later one. The winner is returned under the folded id.
 */
export function bindingOfficerState(left: OfficerState, right: OfficerState, folded: string): OfficerState {
  let chosen: OfficerState
  if (left.sanction === null) chosen = right.sanction === null && left.version >= right.version ? left : right
  else if (right.sanction === null) chosen = left
  else chosen = Date.parse(right.sanction.since) > Date.parse(left.sanction.since) ? right : left
  return chosen.sub === folded ? chosen : { ...chosen, sub: folded }
}

/**
 * Officers' states under their folded user ids: two states of one person (two spellings, e.g. in a
 * backup exported before ids were folded) become the one that binds (bindingOfficerState).
 */
export function foldOfficerStates(states: readonly OfficerState[]): OfficerState[] {
  const people = new Map<string, OfficerState>()
  for (const state of states) {
    const folded = foldUserId(state.sub) ?? state.sub
    const key = `${state.ori} ${folded}`
    const earlier = people.get(key)
    people.set(key, earlier === undefined ? (state.sub === folded ? state : { ...state, sub: folded }) : bindingOfficerState(earlier, state, folded))
  }
  return [...people.values()]
}
