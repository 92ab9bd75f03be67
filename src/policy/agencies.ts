// policies/agencies.yaml: which purposes each kind of agency may declare, per-agency overrides, the
// immigration authorities, and when a monitored agency must justify a query. Compiled into per-kind gates:
// for each purpose, null (the agency may declare it) or the denial, built once. Pure.
import { z } from 'zod'
import { agencyKinds, databaseClasses, oriPattern, type AgencyKind, type DatabaseClass, type Decision } from './types.js'

const purposeId = z.string().regex(/^[a-z][a-z0-9_]*$/, 'expected a purpose id such as criminal_investigation')
const oriKey = z.string().regex(oriPattern, 'expected an ORI: 2 letters and 7 letters or digits')
const text = z.string().trim().min(1)

export const agenciesFile = z.strictObject({
  purposesByKind: z.strictObject(Object.fromEntries(agencyKinds.map((kind) => [kind, z.array(purposeId)])) as Record<AgencyKind, z.ZodArray<typeof purposeId>>),
  overrides: z
    .record(oriKey, z.strictObject({ allow: z.array(purposeId).default([]), deny: z.array(purposeId).default([]), reason: text }))
    .default({}),
  immigrationAuthorities: z.array(z.strictObject({ ori: oriKey, name: text })).default([]),
  justification: z.strictObject({ requiredOfMonitored: z.array(z.enum(databaseClasses)) }),
})
export type AgenciesDoc = z.infer<typeof agenciesFile>

/** For each purpose id: null when the agency may declare it, else the denial. */
export type PurposeGate = ReadonlyMap<string, Decision | null>
export type GatesByKind = Readonly<Record<AgencyKind, PurposeGate>>

export interface AgencyOverride {
  readonly ori: string
  readonly allow: readonly string[]
  readonly deny: readonly string[]
  readonly reason: string
}

export interface AgencyRules {
  /** What each kind may declare, as the policy file lists it. */
  readonly purposesByKind: Readonly<Record<AgencyKind, readonly string[]>>
  readonly overrides: readonly AgencyOverride[]
  /** The gates of agencies without an override. */
  readonly gates: GatesByKind
  /** The gates of each agency with an override, by ORI (its kind comes from the registry, so one per kind). */
  readonly overrideGates: ReadonlyMap<string, GatesByKind>
  /** ORI -> name of each immigration authority. */
  readonly immigrationAuthorities: ReadonlyMap<string, string>
  /** The database classes a monitored agency must justify each query of. */
  readonly justificationRequiredOfMonitored: readonly DatabaseClass[]
}

interface PurposeTitle {
  readonly id: string
  readonly title: string
}

/** Checks the file against the purposes defined in purposes.yaml; pushes `agencies.yaml: path: problem` lines. */
export function checkAgencies(doc: AgenciesDoc, purposeIds: ReadonlySet<string>, problems: string[]): void {
  const file = 'agencies.yaml'
  const purposeList = (path: string, ids: readonly string[]) => {
    const seen = new Set<string>()
    ids.forEach((id, index) => {
      if (!purposeIds.has(id)) problems.push(`${file}: ${path}.${index}: unknown purpose ${id}`)
      else if (seen.has(id)) problems.push(`${file}: ${path}.${index}: ${id} is listed twice`)
      seen.add(id)
    })
  }
  for (const kind of agencyKinds) purposeList(`purposesByKind.${kind}`, doc.purposesByKind[kind])
  for (const [ori, override] of Object.entries(doc.overrides)) {
    purposeList(`overrides.${ori}.allow`, override.allow)
    purposeList(`overrides.${ori}.deny`, override.deny)
    if (override.allow.length === 0 && override.deny.length === 0) problems.push(`${file}: overrides.${ori}: an override allows or denies at least one purpose`)
    override.deny.forEach((id, index) => {
      if (override.allow.includes(id)) problems.push(`${file}: overrides.${ori}.deny.${index}: ${id} is both allowed and denied`)
    })
  }
  const seen = new Set<string>()
  doc.immigrationAuthorities.forEach((authority, index) => {
    if (seen.has(authority.ori)) problems.push(`${file}: immigrationAuthorities.${index}.ori: ${authority.ori} is listed twice`)
    seen.add(authority.ori)
  })
  const classes = new Set<string>()
  doc.justification.requiredOfMonitored.forEach((databaseClass, index) => {
    if (classes.has(databaseClass)) problems.push(`${file}: justification.requiredOfMonitored.${index}: ${databaseClass} is listed twice`)
    classes.add(databaseClass)
  })
}

const kindName: Readonly<Record<AgencyKind, string>> = { local: 'A local agency', state: 'A state agency', federal: 'A federal agency' }

/** Compiles a checked file into gates; `purposes` in the order of purposes.yaml. */
export function compileAgencies(doc: AgenciesDoc, purposes: readonly PurposeTitle[], citation: string): AgencyRules {
  const titles = (ids: ReadonlySet<string>) => purposes.filter((purpose) => ids.has(purpose.id)).map((purpose) => `"${purpose.title}"`).join(', ') || 'none'
  const deny = (reason: string): Decision => Object.freeze({ outcome: 'deny', rule: 'ppp.purpose_not_for_agency', reason, citation })

  const kindGate = (kind: AgencyKind): PurposeGate => {
    const allowed = new Set(doc.purposesByKind[kind])
    const gate = new Map<string, Decision | null>()
    for (const purpose of purposes) {
      gate.set(
        purpose.id,
        allowed.has(purpose.id) ? null : deny(`${kindName[kind]} may not declare the purpose "${purpose.title}": it is not among its official functions. ${kindName[kind]} may declare ${titles(allowed)}.`),
      )
    }
    return gate
  }
  const gates = Object.freeze(Object.fromEntries(agencyKinds.map((kind) => [kind, kindGate(kind)])) as Record<AgencyKind, PurposeGate>)

  const overrides: AgencyOverride[] = []
  const overrideGates = new Map<string, GatesByKind>()
  for (const [ori, override] of Object.entries(doc.overrides)) {
    overrides.push(Object.freeze({ ori, allow: override.allow, deny: override.deny, reason: override.reason }))
    const byKind = {} as Record<AgencyKind, PurposeGate>
    for (const kind of agencyKinds) {
      const allowed = new Set([...doc.purposesByKind[kind], ...override.allow].filter((id) => !override.deny.includes(id)))
      const gate = new Map<string, Decision | null>()
      for (const purpose of purposes) {
        let decision: Decision | null = null
        if (override.deny.includes(purpose.id)) {
          decision = deny(`The policies do not let this agency (${ori}) declare the purpose "${purpose.title}": ${override.reason} It may declare ${titles(allowed)}.`)
        } else if (!allowed.has(purpose.id)) {
          decision = deny(`${kindName[kind]} may not declare the purpose "${purpose.title}": it is not among its official functions. This agency (${ori}) may declare ${titles(allowed)}.`)
        }
        gate.set(purpose.id, decision)
      }
      byKind[kind] = gate
    }
    overrideGates.set(ori, Object.freeze(byKind))
  }

  return Object.freeze({
    purposesByKind: doc.purposesByKind,
    overrides,
    gates,
    overrideGates,
    immigrationAuthorities: new Map(doc.immigrationAuthorities.map((authority) => [authority.ori, authority.name])),
    justificationRequiredOfMonitored: doc.justification.requiredOfMonitored,
  })
}
