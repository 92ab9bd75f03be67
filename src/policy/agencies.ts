// policies/agencies.yaml: which purposes each kind of agency may declare, per-agency overrides, the
// immigration authorities, and when a monitored agency must justify a query. Compiled into per-kind gates:
// for each purpose, null (the agency may declare it) or the denial, built once. Pure.
import { z } from 'zod'
import { agencyKinds, agencyTextLimits, databaseClasses, organisationCovers, organisationPattern, oriPattern, type AgencyKind, type AgencyState, type DatabaseClass, type Decision } from './types.js'

const purposeId = z.string().regex(/^[a-z][a-z0-9_]*$/, 'expected a purpose id such as criminal_investigation')
const oriKey = z.string().regex(oriPattern, 'expected an ORI: 2 letters and 7 letters or digits')
const text = z.string().trim().min(1)
const organisationKey = z
  .string()
  .max(agencyTextLimits.organisation)
  .regex(organisationPattern, 'expected an organisation path such as DHS/ICE: capital letters or digits, segments joined by /')

export const agenciesFile = z.strictObject({
  purposesByKind: z.strictObject(Object.fromEntries(agencyKinds.map((kind) => [kind, z.array(purposeId)])) as Record<AgencyKind, z.ZodArray<typeof purposeId>>),
  overrides: z
    .record(oriKey, z.strictObject({ allow: z.array(purposeId).default([]), deny: z.array(purposeId).default([]), reason: text }))
    .default({}),
  // Each entry names one agency by ORI, or a whole organisation by the prefix of its path (checkAgencies
  // requires exactly one of the two).
  immigrationAuthorities: z.array(z.strictObject({ ori: oriKey.optional(), organisation: organisationKey.optional(), name: text })).default([]),
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
  /** ORI -> name of each immigration authority listed by ORI. */
  readonly immigrationAuthorities: ReadonlyMap<string, string>
  /** Organisation prefix -> name of each immigration authority listed by organisation. */
  readonly immigrationOrganisations: ReadonlyMap<string, string>
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
    if ((authority.ori === undefined) === (authority.organisation === undefined)) {
      problems.push(`${file}: immigrationAuthorities.${index}: give either an ori or an organisation`)
      return
    }
    const [key, value] = authority.ori !== undefined ? ['ori', authority.ori] : ['organisation', authority.organisation!]
    if (seen.has(`${key}:${value}`)) problems.push(`${file}: immigrationAuthorities.${index}.${key}: ${value} is listed twice`)
    seen.add(`${key}:${value}`)
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
    immigrationAuthorities: new Map(doc.immigrationAuthorities.flatMap((authority) => (authority.ori === undefined ? [] : [[authority.ori, authority.name] as const]))),
    immigrationOrganisations: new Map(doc.immigrationAuthorities.flatMap((authority) => (authority.organisation === undefined ? [] : [[authority.organisation, authority.name] as const]))),
    justificationRequiredOfMonitored: doc.justification.requiredOfMonitored,
  })
}

/** Why an agency is an immigration authority: the policy entry that lists it. */
export interface ImmigrationAuthority {
  /** The name the policy gives the entry. */
  readonly name: string
  /** The entry: the agency's own ORI, or an organisation prefix covering the agency's organisation. */
  readonly listed: { readonly ori: string } | { readonly organisation: string }
}

/**
 * The one test of whether an agency is an immigration authority ("any agency, officer or person
 * performing immigration enforcement functions", Gov. Code §7284.4(c)): its ORI is listed, or its
 * registered organisation lies under a listed organisation prefix (whole segments: DHS/ICE covers
 * DHS/ICE/HSI, not DHS/ICEX). `agency` is the registry's state for `ori`, or null for an ORI that is not
 * registered (then only the ORI list can tell). Returns the entry that lists it, or null. Pure; called
 * per query for the requester and for an onBehalfOf or recipient ORI, so it allocates nothing on a miss.
 */
export function isImmigrationAuthority(rules: AgencyRules, ori: string, agency: Pick<AgencyState, 'organisation'> | null): ImmigrationAuthority | null {
  const byOri = rules.immigrationAuthorities.get(ori)
  if (byOri !== undefined) return { name: byOri, listed: { ori } }
  const organisation = agency?.organisation ?? null
  if (organisation === null) return null
  for (const [prefix, name] of rules.immigrationOrganisations) {
    if (organisationCovers(prefix, organisation)) return { name, listed: { organisation: prefix } }
  }
  return null
}
