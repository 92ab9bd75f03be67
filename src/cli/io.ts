// What every gatewayctl command shares: output, the failures and their exit codes, plain-text tables,
// and the confirmation asked before a change that takes access away. Every command loads this file at
// start-up, so it imports nothing heavy; the gateway's settings are in settings.ts.
import { stat } from 'node:fs/promises'
import { createInterface } from 'node:readline/promises'
import { printable } from '../printable.js'

/**
 * gatewayctl's exit codes, one meaning each (the README's table says the same): scripts can tell a
 * failed check from a mistyped command from a service that did not answer (worth retrying later).
 */
export const exitCodes = {
  ok: 0,
  /** A check found a problem (policy check/test, audit verify), or the change was refused or not confirmed. */
  failed: 1,
  /** The command line or an input file is wrong (missing, unreadable, not JSON), or --yes is needed. */
  usage: 2,
  /** Redis or the gateway could not be reached (refused, timed out, wrong password). */
  unreachable: 3,
} as const

/** A bad command line or input file: the message and exit 2. */
export class UsageError extends Error {}

/** An expected failure (audit unwritable, a refused change): the message and exit 1, no stack. */
export class CommandFailed extends Error {}

/** Redis or the gateway did not answer: the message (naming it, without credentials) and exit 3. */
export class Unreachable extends Error {}

export const out = (text: string) => process.stdout.write(`${text}\n`)
export const err = (text: string) => process.stderr.write(`${text}\n`)

/**
 * A left-aligned table with a header row, columns as wide as their widest cell. Cells hold names and
 * ids from operators, terminals and the ledger: their control characters are shown as escapes, so a
 * cell cannot clear the screen or start a row of its own.
 */
export function table(header: readonly string[], cellsByRow: readonly (readonly string[])[]): string {
  const rows = cellsByRow.map((row) => row.map(printable))
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)))
  const line = (cells: readonly string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}

/** A `--name` time option as epoch ms (undefined when not given); a usage error when unreadable. */
export function parseTime(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const parsed = Date.parse(value)
  if (Number.isNaN(parsed)) throw new UsageError(`--${name}: expected a time such as 2026-01-31 or 2026-01-31T12:00:00Z; got ${value}`)
  return parsed
}

const fileProblems: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'a part of the path is not a folder',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
}

/**
 * A file system error (a file named on the command line or by the environment: missing, unreadable,
 * a folder) as one line naming the path, or undefined for anything else. `path` for the errors that
 * do not carry theirs (reading a folder: EISDIR).
 */
export function fileProblem(error: unknown, path = (error as NodeJS.ErrnoException).path): string | undefined {
  const { code, syscall } = error as NodeJS.ErrnoException
  if (typeof code !== 'string' || typeof syscall !== 'string' || path === undefined) return undefined
  return `${path}: ${fileProblems[code] ?? code}`
}

/**
 * A folder named on the command line or by the environment (a policy folder, the audit ledger): there
 * and a folder, else a usage error naming it (exit 2), as for any file a command names. What is wrong
 * inside the folder is the command's to say (a policy problem, a ledger that does not verify: exit 1).
 */
export async function existingFolder(path: string): Promise<string> {
  let folder
  try {
    folder = await stat(path)
  } catch (error) {
    const problem = fileProblem(error, path)
    if (problem !== undefined) throw new UsageError(problem)
    throw error
  }
  if (!folder.isDirectory()) throw new UsageError(`${path}: is a file, not a folder`)
  return path
}

/**
 * Asks before a change that takes access away (a removal, a revoked agreement, a replaced registry).
 * `--yes` skips the question; without it, a terminal is asked to type `answer` back, and anything
 * else (no terminal to ask: a script, a pipe) is refused, having changed nothing.
 */
export async function confirm(what: string, answer: string, yes: boolean): Promise<void> {
  if (yes) return
  if (process.stdin.isTTY !== true) throw new UsageError(`${what}: not confirmed (no terminal to ask); pass --yes to confirm. Nothing was changed.`)
  const prompt = createInterface({ input: process.stdin, output: process.stderr })
  try {
    const typed = await prompt.question(`${what}.\nType ${answer} to confirm: `)
    if (typed.trim() !== answer) throw new CommandFailed('not confirmed; nothing was changed')
  } finally {
    prompt.close()
  }
}
