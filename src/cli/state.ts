// gatewayctl state init|export|import: create a Redis store's agency registry for a new deployment,
// back it up to JSON, and restore it into a Redis that lost its data. Import replaces the whole
// registry in one transaction. A file is held to the admin API's rules before anything happens, and
// init and import are audited like any operator change: the record is durable in the ledger under
// AUDIT_DIR (instance `gatewayctl`) before Redis is touched; if it cannot be written, nothing changes.
import type { Command } from 'commander'
import { commandGroup, exitWith } from './command.js'
import { UsageError } from './io.js'
import { creator } from './operator-ledger.js'

interface StateOptions {
  readonly redis?: string
  readonly operator?: string
  readonly reason?: string
}

/** The Redis from --redis or REDIS_URL. */
function redisUrl(options: StateOptions): string {
  const url = options.redis ?? process.env.REDIS_URL
  if (url === undefined || url === '') throw new UsageError('state commands need the Redis: --redis URL or REDIS_URL (the embedded store is backed up by copying STATE_DIR)')
  return url
}

/** Registers `gatewayctl state …` under the program. */
export function stateCommands(program: Command): void {
  const state = commandGroup(program, 'state', "a Redis store's agency registry: create it, back it up, restore it")
  const redisHelp = 'the Redis (default: REDIS_URL)'
  const operatorHelp = 'who does it, for the audit ledger (default: the OS user)'

  state
    .command('init')
    .description('create the agency registry of a new deployment (refused where one exists or existed), audited')
    .option('--samples', 'with the sample agencies')
    .option('--if-new', 'succeed without changing anything when Redis already holds a registry (a one-shot init service run at every start); a registry this STATE_DIR saw and Redis lost still fails')
    .option('--redis <url>', redisHelp)
    .option('--operator <name>', operatorHelp)
    .option('--reason <text>', 'why, for the audit ledger', 'new deployment: gatewayctl state init')
    .action(
      exitWith(async (options: StateOptions & { samples?: boolean; ifNew?: boolean; reason: string }) => {
        const url = redisUrl(options)
        // ioredis and the rest load when a state command runs, not with the command tree (command.ts).
        const { init, onRedis } = await import('./state-redis.js')
        return onRedis(url, () => init(url, options.samples === true, creator(options.operator, options.reason), options.ifNew === true))
      }),
    )

  state
    .command('export')
    .description("write the agency registry and the officers' sanctions to a JSON backup")
    .option('--redis <url>', redisHelp)
    .option('--out <file>', 'the backup file (default: stdout)')
    .action(
      exitWith(async (options: StateOptions & { out?: string }) => {
        const url = redisUrl(options)
        const { exportRegistry, onRedis } = await import('./state-redis.js')
        return onRedis(url, () => exportRegistry(url, options.out))
      }),
    )

  state
    .command('import')
    .description('replace the registry with a backup (a Redis that lost its data), audited; asks first if Redis holds a registry')
    .argument('<file>', 'a backup written by state export')
    .option('--redis <url>', redisHelp)
    .option('--dry-run', 'check the file and print what would change; write nothing (not Redis, not the ledger)')
    .option('--yes', 'replace a registry without asking (needed when not run from a terminal)')
    .option('--operator <name>', operatorHelp)
    .option('--reason <text>', 'why, for the audit ledger (default: restore: gatewayctl state import FILE)')
    .action(
      exitWith(async (file: string, options: StateOptions & { dryRun?: boolean; yes?: boolean }) => {
        const url = redisUrl(options)
        const by = creator(options.operator, options.reason ?? `restore: gatewayctl state import ${file}`)
        const { importRegistry, onRedis } = await import('./state-redis.js')
        return onRedis(url, () => importRegistry(url, file, by, { dryRun: options.dryRun === true, yes: options.yes === true }))
      }),
    )
}
