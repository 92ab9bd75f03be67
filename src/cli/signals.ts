// gatewayctl signals hash-watchlist [FILE]: the watch-list that policies/signals.yaml names, made from a
// list of protected people's identifiers with the gateway's subject key (issue 13, point 2).
import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { identifierFields, loadSubjectKey, searchIdentifiers, SubjectHasher } from '../audit/subjects.js'
import { commandGroup, exitWith } from './command.js'
import { out, UsageError } from './io.js'

/**
 * Reads identifiers, one `FIELD=VALUE` a line (a licence number, a plate, a person as
 * `person=LAST,FIRST,YYYY-MM-DD`...), and prints their keyed hashes, one a line. The list in the clear
 * stays with whoever keeps it; a problem names the line, never its text.
 */
async function hashWatchlist(file: string | undefined): Promise<number> {
  const { cliConfig } = await import('./settings.js')
  const settings = cliConfig()
  const key = loadSubjectKey(settings.audit.subjectKeyFile, settings.stateDir, false)
  if (key === undefined) throw new UsageError(`no subject key: set AUDIT_SUBJECT_KEY (the gateway's), or start the gateway once so it makes ${settings.stateDir}/dev-subject-key`)
  const hasher = new SubjectHasher(key)
  const lines = readFileSync(file ?? 0, 'utf8').split('\n')
  const hashes: string[] = []
  lines.forEach((raw, index) => {
    const line = raw.replace(/#.*/, '').trim()
    if (line === '') return
    const identifiers = line.includes('=') ? searchIdentifiers(line) : null
    if (identifiers === null) throw new UsageError(`line ${index + 1}: expected FIELD=VALUE with FIELD one of ${identifierFields.join(', ')}`)
    hashes.push(hasher.hash(identifiers[0]!))
  })
  out(`# watch-list: keyed hashes (gatewayctl signals hash-watchlist), ${hashes.length} identifiers\n${hashes.join('\n')}`)
  return 0
}

/** Registers `gatewayctl signals …` under the program. */
export function signalsCommands(program: Command): void {
  const signals = commandGroup(program, 'signals', 'the misuse signals: make their watch-list')

  signals
    .command('hash-watchlist')
    .description("print the keyed hashes (AUDIT_SUBJECT_KEY) of FIELD=VALUE identifiers, one a line, for the watch-list signals.yaml names; no identifier is printed in the clear")
    .argument('[file]', `FIELD=VALUE lines (FIELD one of ${identifierFields.join(', ')}; # starts a comment); default: stdin`)
    .action(exitWith(hashWatchlist))
}
