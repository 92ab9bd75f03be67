// policies/authority.yaml: who may act as DOJ, and which changes need two DOJ operators. Pure: the file
// is read with the other policies and compiled here. The file is optional; without it no token is
// honoured as DOJ (fail closed: a deployment names its DOJ ORIs) and no change needs a second operator.
import { z } from 'zod'
import { oriPattern } from './types.js'

export const authorityFile = 'authority.yaml'

const ori = z.string().regex(oriPattern, 'expected an ORI: 2 letters and 7 letters or digits')

export const authoritySchema = z.strictObject({
  /** The ORIs whose tokens may hold a DOJ role (doj_operator); any other ORI's is refused 403 role_forbidden. */
  dojOris: z.array(ori).min(1),
  /** Two-person control: the change is proposed by one DOJ operator and applied when a second approves it. */
  dualControl: z
    .strictObject({
      liftRemoval: z.boolean().default(false),
      liftSuspension: z.boolean().default(false),
      /** How long a proposed change waits for its second operator before it lapses. */
      pendingSeconds: z.number().int().min(60).max(30 * 86_400).default(86_400),
    })
    .default({ liftRemoval: false, liftSuspension: false, pendingSeconds: 86_400 }),
})

export interface AuthorityPolicy {
  /** The ORIs whose tokens may act as DOJ; empty when no authority file is given. */
  readonly dojOris: ReadonlySet<string>
  readonly dualControl: {
    readonly liftRemoval: boolean
    readonly liftSuspension: boolean
    readonly pendingSeconds: number
  }
}

/** No authority file: nobody acts as DOJ, nothing needs a second operator. */
export const noAuthority: AuthorityPolicy = Object.freeze({
  dojOris: new Set<string>(),
  dualControl: Object.freeze({ liftRemoval: false, liftSuspension: false, pendingSeconds: 86_400 }),
})

export function compileAuthority(doc: z.infer<typeof authoritySchema>, problems: string[]): AuthorityPolicy {
  const seen = new Set<string>()
  doc.dojOris.forEach((entry, index) => {
    if (seen.has(entry)) problems.push(`${authorityFile}: dojOris.${index}: duplicate ORI ${entry}`)
    seen.add(entry)
  })
  return Object.freeze({ dojOris: seen, dualControl: Object.freeze({ ...doc.dualControl }) })
}
