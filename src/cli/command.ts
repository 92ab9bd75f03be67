// gatewayctl's command tree on commander: the program (--help, --version), groups of subcommands, the
// action that sets the exit code, and the one place a failure becomes a message and an exit code.
//
// Adding a command: in its own file, export `fooCommands(program: Command)` that calls
// `commandGroup(program, 'foo', …)` (or `program.command(…)` for a single command) and gives each
// subcommand `.action(exitWith(async (…arguments, options) => exit code))`; then add it to the list in
// gatewayctl.ts. A subcommand of an existing group is one more `group.command(…)` in that group's file.
// Every start builds the whole tree (for --help and parsing), so a group's file imports only what the
// tree needs (commander, io.ts, constants for the help text); an action loads the rest when it runs, with
// `await import(…)`: loading every group's modules (zod schemas, ioredis, undici, the ledger) made each
// start take about half a second, --version included, and the tests start gatewayctl hundreds of times.
// Failures are thrown: UsageError (exit 2), CommandFailed (1), Unreachable (3); see io.ts.
import { Command, CommanderError } from 'commander'
import { packageVersion } from '../version.js'
import { CommandFailed, err, exitCodes, fileProblem, Unreachable, UsageError } from './io.js'

/** The program, before its commands are added (subcommands inherit what is set here). */
export function createProgram(): Command {
  return (
    new Command('gatewayctl')
      .description("the CLETS query gateway's command line, for DOJ operators and auditors")
      .version(packageVersion, '-V, --version', 'print the version')
      .helpOption('-h, --help', 'show the usage of a command (every command and subcommand has it)')
      // Program options only before a subcommand: `agencies agreement --version V` is the agreement's.
      .enablePositionalOptions()
      // Commander's errors are thrown to run() below, which turns them into exit code 2.
      .exitOverride()
      .configureOutput({ outputError: (text, write) => write(`gatewayctl: ${text.replace(/^error: /, '')}`) })
      .addHelpText(
        'after',
        `
Exit codes:
  0  done
  1  a check failed (policy check or test, audit verify), the gateway refused the change, it was not confirmed, or its audit record could not be written
  2  usage: a wrong command line or input file (missing, unreadable, not JSON), or --yes needed
  3  Redis or the gateway could not be reached; nothing was changed

Environment: GATEWAY_URL and GATEWAY_TOKEN (admin API commands), REDIS_URL (state), AUDIT_DIR,
STATE_DIR, POLICY_DIR and the gateway's other variables (see the README).`,
      )
  )
}

/** A group of subcommands (agencies, state, …); an unknown subcommand is named with its group. */
export function commandGroup(parent: Command, name: string, description: string): Command {
  const group = parent.command(name).description(description)
  group.on('command:*', (operands: string[]) => {
    throw new UsageError(`unknown ${name} command ${operands[0]}; \`gatewayctl ${name} --help\` lists them`)
  })
  return group
}

/** An action whose result (0, 1, …) becomes the exit code (commander passes the arguments, then the options, then the command). */
export function exitWith<A extends any[]>(action: (...args: A) => number | Promise<number>): (...args: A) => Promise<void> {
  return async (...args) => {
    process.exitCode = await action(...args)
  }
}

/** Every command under `command`, itself first. */
function commandsUnder(command: Command): Command[] {
  return [command, ...command.commands.flatMap(commandsUnder)]
}

/** The command's name as typed: `gatewayctl agencies sanction`. */
function fullName(command: Command): string {
  return command.parent === null ? command.name() : `${fullName(command.parent)} ${command.name()}`
}

/** Runs the command line; sets the exit code, and prints a failure as one line (no stack) when it is expected. */
export async function run(program: Command, argv: readonly string[]): Promise<void> {
  for (const command of commandsUnder(program)) command.showHelpAfterError(`(\`${fullName(command)} --help\` shows the usage)`)
  try {
    await program.parseAsync(argv, { from: 'user' })
  } catch (error) {
    process.exitCode = failure(error)
  }
}

function failure(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander printed it already: the help or version asked for (0), or a usage error, or the help of
    // a group called without a subcommand (commander's 1, ours 2).
    return error.exitCode === 0 ? exitCodes.ok : exitCodes.usage
  }
  const known: [new (message: string) => Error, number][] = [
    [UsageError, exitCodes.usage],
    [CommandFailed, exitCodes.failed],
    [Unreachable, exitCodes.unreachable],
  ]
  for (const [kind, code] of known) {
    if (error instanceof kind) {
      err(`gatewayctl: ${error.message}`)
      return code
    }
  }
  // A file named on the command line or by the environment: missing, unreadable, a folder.
  const file = fileProblem(error)
  if (file !== undefined) {
    err(`gatewayctl: ${file}`)
    return exitCodes.usage
  }
  throw error // a bug: the stack helps whoever reports it
}
