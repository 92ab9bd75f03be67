// gatewayctl agencies …: the admin API from a terminal, for DOJ operators. Tables by default, --json for
// scripts. The URL comes from --url or GATEWAY_URL, the operator token from --token or GATEWAY_TOKEN.
import type { Command } from 'commander'
import { agencyTextLimits, organisationPattern, type AgencyState } from '../policy/types.js'
import { pendingNotice, type ChangeView } from './changes.js'
import { adminCommand, need, oriArgument, sanctionBody, sanctionOptions, showAnswer, type AdminOptions, type SanctionOptions } from './admin-api.js'
import { commandGroup, exitWith } from './command.js'
import { confirm, out, table, UsageError } from './io.js'

function sanctionText(agency: AgencyState): string {
  const sanction = agency.sanction
  if (sanction === null) return '-'
  const scope = sanction.scope === 'all' ? '' : ` (${sanction.scope})`
  const written = sanction.writtenRequests === true ? ', written requests only' : ''
  return `${sanction.type}${scope}${written}${sanction.until === undefined ? '' : ` until ${sanction.until}`}`
}

function print(answer: AgencyState | AgencyState[]): void {
  const agencies = Array.isArray(answer) ? answer : [answer]
  out(
    table(
      ['ORI', 'NAME', 'KIND', 'ORGANISATION', 'AGREEMENT', 'SANCTION', 'MONITORED', 'VERSION'],
      agencies.map((agency) => [
        agency.ori,
        agency.name,
        agency.kind,
        agency.organisation ?? '-',
        agency.agreement === null ? '-' : `${agency.agreement.version} (${agency.agreement.signedAt.slice(0, 10)})`,
        sanctionText(agency),
        agency.monitored ? 'yes' : 'no',
        String(agency.version),
      ]),
    ),
  )
}

/** --organisation, checked before anything is sent, as the admin API checks it. */
function organisationOption(value: string): string {
  if (value.length > agencyTextLimits.organisation || !organisationPattern.test(value)) {
    throw new UsageError(`--organisation needs a path such as DHS/ICE/HSI: capital letters or digits, segments joined by /, at most ${agencyTextLimits.organisation} characters`)
  }
  return value
}

/** The ORI argument of a subcommand, checked before anything is sent. */
const oriOf = (action: string) => oriArgument(`${action} needs an ORI such as CA0194200`)
const oriHelp = "the agency's ORI, e.g. CA0194200"

/** Registers `gatewayctl agencies …` under the program. */
export function agenciesCommands(program: Command): void {
  const agencies = commandGroup(program, 'agencies', "the agencies' registry, agreements and sanctions, through the admin API (DOJ operators)")

  adminCommand(agencies, 'list', 'every registered agency').action(exitWith((options: AdminOptions) => showAnswer(options, 'GET', '/v1/agencies', undefined, print)))

  adminCommand(agencies, 'show', 'one agency')
    .argument('<ori>', oriHelp, oriOf('show'))
    .action(exitWith((ori: string, options: AdminOptions) => showAnswer(options, 'GET', `/v1/agencies/${ori}`, undefined, print)))

  adminCommand(agencies, 'register', 'register an agency, or update its name, kind, organisation or monitoring')
    .argument('<ori>', oriHelp, oriOf('register'))
    .option('--name <name>', "the agency's name (required)")
    .option('--kind <kind>', 'local, state or federal (required)')
    .option('--organisation <path>', 'where the agency sits, e.g. DHS/ICE/HSI or DOJ/FBI (left out, an update keeps the one registered)', organisationOption)
    .option('--no-organisation', 'register it without an organisation')
    .option('--monitored', "watch the agency's queries closely (gateway_agency_decisions_total and the misuse signals)")
    .option('--not-monitored', 'stop watching it closely')
    .option('--reason <text>', 'why, for the audit ledger (required)')
    .action(
      exitWith((ori: string, options: AdminOptions & { name?: string; kind?: string; reason?: string; organisation?: string | false; monitored?: boolean; notMonitored?: boolean }) => {
        const body: Record<string, unknown> = { name: need(options, 'name', 'register'), kind: need(options, 'kind', 'register'), reason: need(options, 'reason', 'register') }
        if (options.organisation !== undefined) body.organisation = options.organisation === false ? null : options.organisation
        if (options.monitored === true) body.monitored = true
        if (options.notMonitored === true) body.monitored = false
        return showAnswer(options, 'PUT', `/v1/agencies/${ori}`, body, print)
      }),
    )

  adminCommand(agencies, 'agreement', 'record the agency\'s signed agreement')
    .argument('<ori>', oriHelp, oriOf('agreement'))
    .option('--version <version>', 'the agreement version, e.g. PPP-2019-02 (required)')
    .option('--signed-at <time>', 'when it was signed (ISO 8601; required)')
    .option('--reason <text>', 'why, for the audit ledger (required)')
    .action(
      exitWith((ori: string, options: AdminOptions & { version?: string; signedAt?: string; reason?: string }) =>
        showAnswer(options, 'PUT', `/v1/agencies/${ori}/agreement`, { version: need(options, 'version', 'agreement'), signedAt: need(options, 'signedAt', 'agreement'), reason: need(options, 'reason', 'agreement') }, print),
      ),
    )

  adminCommand(agencies, 'revoke', "revoke the agency's agreement: every query from it is refused until a new one")
    .argument('<ori>', oriHelp, oriOf('revoke'))
    .option('--reason <text>', 'why, for the audit ledger (required)')
    .option('--yes', 'do not ask for confirmation (needed when not run from a terminal)')
    .action(
      exitWith(async (ori: string, options: AdminOptions & { reason?: string; yes?: boolean }) => {
        const body = { reason: need(options, 'reason', 'revoke') }
        await confirm(`revoke the agreement of ${ori}: every query from it will be refused (agency.no_agreement) until a new agreement is recorded`, ori, options.yes === true)
        return showAnswer(options, 'DELETE', `/v1/agencies/${ori}/agreement`, body, print)
      }),
    )

  sanctionOptions(adminCommand(agencies, 'sanction', 'censure, suspend or remove an agency').argument('<ori>', oriHelp, oriOf('sanction')), 'censure, suspension or removal')
    .option('--written-requests', 'the agency may still ask for criminal history in writing (DOJ approves each request)')
    .action(
      exitWith(async (ori: string, options: AdminOptions & SanctionOptions & { writtenRequests?: boolean }) => {
        const body = sanctionBody('sanction', options)
        if (options.writtenRequests === true) body.writtenRequests = true
        if (options.type === 'removal') await confirm(`remove ${ori} from CLETS: every query from it will be refused until it is reinstated`, ori, options.yes === true)
        return showAnswer(options, 'PUT', `/v1/agencies/${ori}/sanction`, body, print)
      }),
    )

  adminCommand(agencies, 'reinstate', "end the agency's sanction")
    .argument('<ori>', oriHelp, oriOf('reinstate'))
    .option('--reason <text>', 'why, for the audit ledger (required)')
    .action(
      exitWith((ori: string, options: AdminOptions & { reason?: string }) =>
        // A lift the policy reserves for two operators answers with the proposed change (exit 0: it was proposed).
        showAnswer(options, 'DELETE', `/v1/agencies/${ori}/sanction`, { reason: need(options, 'reason', 'reinstate') }, (answer: AgencyState | { change: ChangeView }) =>
          'change' in answer ? pendingNotice(answer.change) : print(answer),
        ),
      ),
    )
}
