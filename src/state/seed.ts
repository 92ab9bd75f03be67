// Creating an agency registry in a store that never held one, audited: `gatewayctl state init` for a
// new deployment (with the samples for a demo stack), and the embedded store's first start seeding the
// sample agencies (a gateway never seeds a Redis: docs/floods.md). Which samples are real agencies and
// which are invented, and the source of every fact the real ones carry: docs/facts.md. A sample that
// shows a sanction or misuse is a fictional agency, says so in its name, and has an ORI in the format
// (CA, a 3-digit county, the agency part) with county 099, which no California county has.
import { randomUUID } from 'node:crypto'
import type { AuditEvent } from '../audit/record.js'
import type { AgencyKind, Sanction } from '../policy/types.js'
import { AgencyConflictError } from './redis.js'
import type { AgencyChange, BeforeCommit, StateStore } from './types.js'

export interface SampleAgency {
  readonly ori: string
  readonly name: string
  readonly kind: AgencyKind
  /** Where it sits (docs/organisations.md). */
  readonly organisation: string
  readonly monitored: boolean
  readonly agreementSignedAt: string | null
  readonly sanction: Omit<Sanction, 'since'> | null
}

export const sampleAgencies: readonly SampleAgency[] = [
  // Real (CA0194200 is LAPD's ORI). Connected agencies sign a subscriber agreement; the date is a
  // placeholder for the demo: no source gives the day LAPD signed.
  { ori: 'CA0194200', name: 'Los Angeles Police Department', kind: 'local', organisation: 'CA/LAPD', monitored: false, agreementSignedAt: '2019-05-20T19:00:00.000Z', sanction: null },
  {
    // Fictional: the agency, its ORI, its agreement date and its censure are invented. The censure shows
    // a misuse category of the DOJ bulletin of 17 Apr 2018: criminal history queried for licensing
    // (concealed-weapon permits).
    ori: 'CA0990000',
    name: "Bayview County Sheriff's Department (fictional)",
    kind: 'local',
    organisation: 'CA/BAYVIEWSO',
    monitored: false,
    agreementSignedAt: '2019-06-03T19:00:00.000Z',
    sanction: { type: 'censure', scope: 'all', reason: 'CCW applicant checks run on criminal history (invented sample)' },
  },
  // Real. ICE ERO was required to sign an agreement not to use CLETS for immigration enforcement,
  // refused, and lost CLETS access on 15 Oct 2019 (EFF, docs/facts.md): no agreement here.
  { ori: 'CADHS0100', name: 'DHS ICE Enforcement and Removal Operations', kind: 'federal', organisation: 'DHS/ICE/ERO', monitored: true, agreementSignedAt: null, sanction: null },
  // Real agency, invented ORI (the letters are not a county code). EFF asked DOJ to monitor each CBP
  // transaction, so CBP queries CLETS; the agreement date is a placeholder for the demo, not a fact.
  { ori: 'CACBP0000', name: 'DHS U.S. Customs and Border Protection', kind: 'federal', organisation: 'DHS/CBP', monitored: true, agreementSignedAt: '2019-09-30T19:00:00.000Z', sanction: null },
]

/** Raised when the store got a registry between the check and the claim: it is left as it is. */
export class RegistryExistsError extends Error {
  override name = 'RegistryExistsError'
}

/** Who creates the registry, from where, and why: what the audit records say. */
export interface RegistryCreator {
  readonly operator: string
  readonly source: string
  readonly reason: string
}

export interface RegistryInit {
  readonly samples: boolean
  /** The agreement version the policies require: the samples that signed, signed this one. */
  readonly agreementVersion: string
  readonly now: number
  /** The store as the records name it: a Redis URL without credentials, or `embedded`. */
  readonly target: string
  readonly by: RegistryCreator
  /** Appends an event to the ledger; resolves once it is durable. */
  readonly audit: (event: AuditEvent) => Promise<void>
}

/**
 * Creates the registry in a store that holds none: the operator.init record first (durable, or nothing
 * happens), then the atomic claim (RegistryExistsError if another instance or operator won), then with
 * samples each sample change, audited before it applies as an admin API change is. A change that was
 * audited and then failed in the store gets its operator.failed record.
 */
export async function initializeRegistry(store: StateStore, init: RegistryInit): Promise<void> {
  const { by, audit } = init
  const id = randomUUID()
  await audit({ type: 'operator.init', id, operator: by.operator, source: by.source, reason: by.reason, target: init.target, samples: init.samples })
  let claimed: boolean
  try {
    claimed = await store.initialize()
  } catch (error) {
    await audit({ type: 'operator.failed', id, code: 'state_unavailable' }).catch(() => undefined)
    throw error
  }
  if (!claimed) {
    await audit({ type: 'operator.failed', id, code: 'registry_exists' }).catch(() => undefined)
    throw new RegistryExistsError(`${init.target} already holds an agency registry`)
  }
  if (!init.samples) return
  for (const step of sampleSteps(store, init.agreementVersion, init.now)) {
    let audited: string | null = null
    try {
      await step(async (change: AgencyChange) => {
        const changeId = randomUUID()
        await audit({ type: 'operator.change', id: changeId, operator: by.operator, operatorOri: change.ori, source: by.source, action: change.action, ori: change.ori, reason: by.reason, before: change.before, after: change.after })
        audited = changeId
      })
    } catch (error) {
      // The record said the change was made; say that it was not.
      if (audited !== null) await audit({ type: 'operator.failed', id: audited, code: error instanceof AgencyConflictError ? 'agency_conflict' : 'state_unavailable' }).catch(() => undefined)
      throw error
    }
  }
}

/** Each change that registers the samples, with the agreement version the policies require. */
function sampleSteps(store: StateStore, agreementVersion: string, now: number): ((beforeCommit: BeforeCommit) => Promise<AgencyChange>)[] {
  const steps: ((beforeCommit: BeforeCommit) => Promise<AgencyChange>)[] = []
  for (const { ori, name, kind, organisation, monitored, agreementSignedAt, sanction } of sampleAgencies) {
    steps.push((beforeCommit) => store.register(ori, { name, kind, organisation, monitored }, now, beforeCommit))
    if (agreementSignedAt !== null) steps.push((beforeCommit) => store.recordAgreement(ori, { version: agreementVersion, signedAt: agreementSignedAt }, now, beforeCommit))
    if (sanction !== null) steps.push((beforeCommit) => store.impose(ori, { ...sanction, since: new Date(now).toISOString() }, now, beforeCommit))
  }
  return steps
}
