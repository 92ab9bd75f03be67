// Operator changes as pure functions from an agency's state before to its state after. Both stores
// apply exactly these, so an agency's history means the same whichever store kept it.
import type { Agreement, AgencyState, OfficerSanction, OfficerState, Sanction } from '../policy/types.js'
import { AgencyNotFoundError, type AgencyChange, type AgencyRegistration, type FilingChange, type FilingFigures, type MisuseFiling, type OfficerChange } from './types.js'

function existing(ori: string, before: AgencyState | null): AgencyState {
  if (before === null) throw new AgencyNotFoundError(`no agency is registered with ORI ${ori}`)
  return before
}

/**
 * An agency's state as a store read it: one kept before agencies had an organisation gets none (null),
 * so every state the gateway holds has the field.
 */
export function storedAgency(state: AgencyState): AgencyState {
  return state.organisation === undefined ? { ...state, organisation: null } : state
}

/** Registers a new agency or updates the name, kind, organisation and monitoring of a registered one. */
export function registerChange(ori: string, before: AgencyState | null, registration: AgencyRegistration): AgencyChange {
  const after: AgencyState = {
    ori,
    name: registration.name,
    kind: registration.kind,
    organisation: registration.organisation ?? null,
    agreement: before?.agreement ?? null,
    sanction: before?.sanction ?? null,
    monitored: registration.monitored,
    version: (before?.version ?? 0) + 1,
  }
  return { action: before === null ? 'agency.register' : 'agency.update', ori, before, after }
}

export function agreementChange(ori: string, before: AgencyState | null, agreement: Agreement | null): AgencyChange {
  const current = existing(ori, before)
  return {
    action: agreement === null ? 'agreement.revoke' : 'agreement.record',
    ori,
    before: current,
    after: { ...current, agreement, version: current.version + 1 },
  }
}

export function sanctionChange(ori: string, before: AgencyState | null, sanction: Sanction | null): AgencyChange {
  const current = existing(ori, before)
  return {
    action: sanction === null ? 'sanction.lift' : 'sanction.impose',
    ori,
    before: current,
    after: { ...current, sanction, version: current.version + 1 },
  }
}

/**
 * Imposes (or, with null, lifts) an officer's sanction. The officer's agency must be registered: a
 * sanction filed under a mistyped ORI would bind nobody while the operator believed it did.
 */
export function officerSanctionChange(ori: string, sub: string, agency: AgencyState | null, before: OfficerState | null, sanction: OfficerSanction | null): OfficerChange {
  existing(ori, agency)
  return {
    action: sanction === null ? 'officer.sanction.lift' : 'officer.sanction.impose',
    ori,
    sub,
    before,
    after: { ori, sub, sanction, version: (before?.version ?? 0) + 1 },
  }
}

/** Records (or records again) an agency's misuse filing for a year; the agency must be registered. */
export function filingChange(ori: string, year: number, agency: AgencyState | null, before: MisuseFiling | null, figures: FilingFigures, now: number): FilingChange {
  existing(ori, agency)
  return { action: 'filing.record', ori, year, before, after: { ori, year, ...figures, recordedAt: new Date(now).toISOString(), version: (before?.version ?? 0) + 1 } }
}
