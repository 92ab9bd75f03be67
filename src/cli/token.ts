// gatewayctl token: a development token signed with GATEWAY_JWT_SECRET, or with the secret `npm start`
// keeps under STATE_DIR. Production tokens come from the identity provider (GATEWAY_JWT_PUBLIC_KEYS).
import type { Command } from 'commander'
import { oriPattern } from '../policy/types.js'
import { exitWith } from './command.js'
import { out, UsageError } from './io.js'

/** `90s`, `15m`, `1h`, `7d` -> seconds. */
export function parseTtl(text: string): number {
  const match = /^(\d+)([smhd])$/.exec(text)
  if (match === null) throw new UsageError(`--ttl: expected a number and a unit (s, m, h, d), e.g. 1h; got ${text}`)
  const seconds = Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as 's' | 'm' | 'h' | 'd']
  if (seconds < 1 || seconds > 30 * 86_400) throw new UsageError('--ttl: between 1s and 30d')
  return seconds
}

interface TokenOptions {
  readonly sub?: string
  readonly ori?: string
  readonly role?: string[]
  readonly terminal?: string
  readonly ttl: string
}

/** Registers `gatewayctl token` under the program. */
export function tokenCommand(program: Command): void {
  program
    .command('token')
    .description('mint a development token (GATEWAY_JWT_SECRET, or the secret `npm start` keeps under STATE_DIR) and print it')
    .option('--sub <user>', 'the user id: an officer or a DOJ operator (required)')
    .option('--ori <ori>', "the user's agency ORI, e.g. CA0194200 (required)")
    .option('--role <role>', 'terminal (queries) or doj_operator (the admin API); repeat for both (required)', (role: string, roles: string[] = []) => [...roles, role])
    .option('--terminal <mnemonic>', 'the terminal mnemonic')
    .option('--ttl <duration>', 'how long it is valid: 90s, 15m, 1h (at most JWT_MAX_LIFETIME_S, 12h by default)', '1h')
    .action(
      exitWith(async (options: TokenOptions) => {
        const { sub, ori, role } = options
        if (sub === undefined || ori === undefined || role === undefined) throw new UsageError('token needs --sub, --ori and --role')
        if (!oriPattern.test(ori)) throw new UsageError(`--ori: expected an ORI such as CA0194200; got ${ori}`)
        for (const each of role) if (each !== 'terminal' && each !== 'doj_operator') throw new UsageError(`--role: terminal or doj_operator; got ${each}`)
        const ttlSeconds = parseTtl(options.ttl)
        // Loaded once the command line is found good (command.ts says why).
        const [{ cliConfig }, { developmentSecret }, { lifetimeText, mintToken }] = await Promise.all([import('./settings.js'), import('../dev-secret.js'), import('../http/mint.js')])
        const settings = cliConfig()
        // The gateway refuses a token that lives longer (401 token_invalid): better not to mint one.
        if (ttlSeconds > settings.jwt.maxLifetimeSeconds) {
          throw new UsageError(`--ttl: at most ${lifetimeText(settings.jwt.maxLifetimeSeconds)} (JWT_MAX_LIFETIME_S): the gateway refuses a token that lives longer; got ${options.ttl}`)
        }
        const secret = settings.jwt.secret ?? developmentSecret(settings.stateDir, false)
        if (secret === undefined) {
          throw new UsageError(`no signing secret: set GATEWAY_JWT_SECRET, or start the gateway once (npm start) so it makes ${settings.stateDir}/dev-jwt-secret`)
        }
        out(mintToken(secret, settings.jwt.issuer, settings.jwt.audience, { sub, ori, roles: role, terminal: options.terminal, ttlSeconds }))
        return 0
      }),
    )
}
