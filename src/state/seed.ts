// Sample agencies for the demo, seeded on first start (an empty store that never held an agency).
// The ORIs follow the format; the names are real agencies, the states are invented for the demo.
import type { AgencyKind, Sanction } from '../policy/types.js'
import type { BeforeCommit, StateStore } from './types.js'

export interface SampleAgency {
  readonly ori: string
  readonly name: string
  readonly kind: AgencyKind
  readonly monitored: boolean
  readonly agreementSignedAt: string | null
  readonly sanction: Omit<Sanction, 'since'> | null
}

export const sampleAgencies: readonly SampleAgency[] = [
  { ori: 'CA0194200', name: 'Los Angeles Police Department', kind: 'local', monitored: false, agreementSignedAt: '2019-05-20T00:00:00.000Z', sanction: null },
  {
    ori: 'CA0370000',
    name: "San Diego County Sheriff's Department",
    kind: 'local',
    monitored: false,
    agreementSignedAt: '2019-06-03T00:00:00.000Z',
    // Concealed-carry checks on criminal history were ~93% of 2023's violations (DOMAIN.md).
    sanction: { type: 'censure', scope: 'all', reason: 'CCW applicant checks run on criminal history (sample)' },
  },
  // ICE Enforcement and Removal Operations refused the 2019 agreement and was cut off on 15 Oct 2019.
  { ori: 'CADHS0100', name: 'DHS ICE Enforcement and Removal Operations', kind: 'federal', monitored: true, agreementSignedAt: null, sanction: null },
  { ori: 'CACBP0000', name: 'DHS U.S. Customs and Border Protection', kind: 'federal', monitored: true, agreementSignedAt: '2019-09-30T00:00:00.000Z', sanction: null },
]

/** Registers the sample agencies with the agreement version the policies require. */
export async function seedSampleAgencies(store: StateStore, agreementVersion: string, now: number, beforeCommit: BeforeCommit): Promise<void> {
  for (const sample of sampleAgencies) {
    await store.register(sample.ori, { name: sample.name, kind: sample.kind, monitored: sample.monitored }, now, beforeCommit)
    if (sample.agreementSignedAt !== null) {
      await store.recordAgreement(sample.ori, { version: agreementVersion, signedAt: sample.agreementSignedAt }, now, beforeCommit)
    }
    if (sample.sanction !== null) await store.impose(sample.ori, { ...sample.sanction, since: new Date(now).toISOString() }, now, beforeCommit)
  }
}
