// gatewayctl state init|export|import: create a Redis store's agency registry for a new deployment,
// back it up to JSON, and restore it into a Redis that lost its data. Import replaces the whole
// registry in one transaction. A file is held to the admin API's rules before anything happens, and
// init and import are audited like any operator change: the record is durable in the ledger under
// AUDIT_DIR (instance `gatewayctl`) before Redis is touched; if it cannot be written, nothing changes.
import { createHash, randomUUID } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { z } from 'zod'
import { officerRegistrySchema, registrySchema } from '../audit/record.js'
import { loadPolicyDir } from '../policy-files.js'
import { PolicyError } from '../policy/compile.js'
import { RedisStateStore } from '../state/redis.js'
import { redisTarget, registrySeen, registrySeenFile } from '../state/registry.js'
import { initializeRegistry, RegistryExistsError, sampleAgencies, type RegistryCreator } from '../state/seed.js'
import { appendDurably, creator, openOperatorLedger } from './operator-ledger.js'
import { StateUnavailableError } from '../state/types.js'
import { cliConfig, CommandFailed, out, UsageError } from './io.js'

export const stateUsage = `  gatewayctl state init [--samples] [--redis URL] [--operator NAME] [--reason TEXT]   (a new deployment)
  gatewayctl state export [--redis URL] [--out FILE]   (REDIS_URL by default; stdout by default)
  gatewayctl state import FILE [--redis URL] [--operator NAME] [--reason TEXT]`

const backupSchema = z
  .strictObject({
    format: z.literal('clets-agency-registry/1'),
    exportedAt: z.iso.datetime({ offset: true }),
    agencies: registrySchema,
    // The officers' sanctions (issue 12). A file exported before them holds none: it restores none.
    officers: officerRegistrySchema.default([]),
  })
  .superRefine((backup, context) => {
    // An officer's sanction under an ORI the registry lacks would bind nobody: the file is inconsistent.
    const oris = new Set(backup.agencies.map((agency) => agency.ori))
    backup.officers.forEach((officer, index) => {
      if (!oris.has(officer.ori)) context.addIssue({ code: 'custom', path: ['officers', index, 'ori'], message: `no agency ${officer.ori} in the file` })
    })
  })

/** "1 officer sanction record", "3 officer sanction records" (reinstated officers keep theirs). */
const officerRecords = (count: number) => `${count} officer sanction record${count === 1 ? '' : 's'}`

const restoreHint = 'a Redis that lost its data is restored with `gatewayctl state import FILE` from the latest export'

export async function state(args: string[]): Promise<number> {
  const text = { type: 'string' } as const
  const { values, positionals } = parseArgs({ args, options: { redis: text, out: text, operator: text, reason: text, samples: { type: 'boolean', default: false } }, allowPositionals: true })
  const [action, file, ...rest] = positionals
  const url = values.redis ?? process.env.REDIS_URL
  if (url === undefined || url === '') throw new UsageError('state commands need the Redis: --redis URL or REDIS_URL (the embedded store is backed up by copying STATE_DIR)')
  const valid = rest.length === 0 && (action === 'import' ? file !== undefined : (action === 'init' || action === 'export') && file === undefined)
  if (!valid) throw new UsageError(stateUsage)
  const changes = action === 'init' || action === 'import'
  if (!changes && (values.operator !== undefined || values.reason !== undefined)) throw new UsageError('--operator and --reason are for state init and state import')
  if (action !== 'init' && values.samples) throw new UsageError('--samples is for state init')

  try {
    if (action === 'export') return await exportRegistry(url, values.out)
    const by = creator(values.operator, values.reason ?? (action === 'init' ? 'new deployment: gatewayctl state init' : `restore: gatewayctl state import ${file}`))
    if (action === 'init') return await init(url, values.samples, by)
    return await importRegistry(url, file!, by)
  } catch (error) {
    if (error instanceof StateUnavailableError) throw new CommandFailed(`cannot reach Redis at ${redisTarget(url)} (${error.message.replace(/^Redis: /, '')}); nothing was changed`)
    throw error
  }
}

async function init(url: string, samples: boolean, by: RegistryCreator): Promise<number> {
  const config = cliConfig()
  const target = redisTarget(url)
  // Run where a gateway keeps its STATE_DIR, this knows what Redis cannot: that it held a registry.
  const seen = registrySeen(config.stateDir)
  if (seen !== null) {
    throw new CommandFailed(
      `${join(config.stateDir, registrySeenFile)} records that the gateway saw an agency registry in Redis (${seen.redis}, first on ${seen.firstSeen}): ${restoreHint}; state init is only for a new deployment (delete that file only if this truly is one). Nothing was changed.`,
    )
  }
  let agreementVersion = ''
  if (samples) {
    try {
      agreementVersion = (await loadPolicyDir(config.policyDir)).agreementVersion
    } catch (error) {
      if (error instanceof PolicyError) throw new CommandFailed(`the sample agencies need the policies' agreement version:\n${error.problems.join('\n')}`)
      throw error
    }
  }
  const store = await RedisStateStore.open({ url, timeoutMs: 5000 })
  try {
    const exists = async () => new CommandFailed(`${target} already holds an agency registry (${(await store.list()).length} agencies): state init is only for a new deployment; ${restoreHint}. Nothing was changed.`)
    if (await store.holdsRegistry()) throw await exists()
    const nothing = 'nothing was initialized'
    const ledger = await openOperatorLedger(config.auditDir, nothing)
    try {
      await initializeRegistry(store, {
        samples,
        agreementVersion,
        now: Date.now(),
        target,
        by,
        audit: (event) => appendDurably(ledger, event, nothing),
      })
    } catch (error) {
      if (error instanceof RegistryExistsError) throw await exists()
      throw error
    } finally {
      await ledger.close()
    }
  } finally {
    await store.close()
  }
  out(samples ? `initialized the agency registry with ${sampleAgencies.length} sample agencies in ${target}` : `initialized an empty agency registry in ${target}; register agencies with gatewayctl agencies register`)
  return 0
}

/** The file's bytes and its registry, held to the admin API's rules; a bad file is a usage error naming it. */
function readBackup(file: string): { bytes: Buffer; backup: z.infer<typeof backupSchema> } {
  let bytes: Buffer
  try {
    bytes = readFileSync(file)
  } catch (error) {
    throw new UsageError(`${file}: cannot read it: ${(error as Error).message}`)
  }
  let content: unknown
  try {
    content = JSON.parse(bytes.toString('utf8'))
  } catch (error) {
    throw new UsageError(`${file}: not JSON: ${(error as Error).message}`)
  }
  const parsed = backupSchema.safeParse(content)
  if (!parsed.success) {
    throw new UsageError(`${file}: not a registry backup:\n${parsed.error.issues.map((issue) => `  ${issue.path.join('.') || '(top)'}: ${issue.message}`).join('\n')}`)
  }
  return { bytes, backup: parsed.data }
}

async function importRegistry(url: string, file: string, by: RegistryCreator): Promise<number> {
  const { bytes, backup } = readBackup(file)
  const config = cliConfig()
  const target = redisTarget(url)
  const store = await RedisStateStore.open({ url, timeoutMs: 5000 })
  let replaced: number
  let officersReplaced: number
  try {
    replaced = (await store.list()).length
    officersReplaced = (await store.listOfficers(undefined)).length
    const nothing = 'nothing was imported'
    const ledger = await openOperatorLedger(config.auditDir, nothing)
    try {
      const id = randomUUID()
      const sha256 = createHash('sha256').update(bytes).digest('hex')
      await appendDurably(ledger, { type: 'operator.import', id, operator: by.operator, source: by.source, reason: by.reason, target, file, sha256, agencies: backup.agencies.length, replaced, officers: backup.officers.length, officersReplaced }, nothing)
      try {
        await store.importRegistry(backup.agencies, backup.officers)
      } catch (error) {
        // The record said the registry was replaced; say that it was not.
        await ledger.append({ type: 'operator.failed', id, code: 'state_unavailable' }, Date.now()).catch(() => undefined)
        throw error
      }
    } finally {
      await ledger.close()
    }
  } finally {
    await store.close()
  }
  out(`imported ${backup.agencies.length} agencies and ${officerRecords(backup.officers.length)} (exported ${backup.exportedAt}) into ${target}, replacing ${replaced} and ${officersReplaced}; audited in ${config.auditDir}`)
  return 0
}

async function exportRegistry(url: string, outFile: string | undefined): Promise<number> {
  const store = await RedisStateStore.open({ url, timeoutMs: 5000 })
  try {
    // Officers first: an agency is never removed from the registry, so every officer read here has its
    // agency in the list read next (the other order could catch an officer of an agency registered between).
    const officers = await store.listOfficers(undefined)
    const agencies = await store.exportRegistry()
    const text = `${JSON.stringify({ format: 'clets-agency-registry/1', exportedAt: new Date().toISOString(), agencies, officers }, null, 2)}\n`
    if (outFile === undefined) process.stdout.write(text)
    else {
      writeFileSync(outFile, text, { mode: 0o600 })
      out(`exported ${agencies.length} agencies and ${officerRecords(officers.length)} to ${outFile}`)
    }
    return 0
  } finally {
    await store.close()
  }
}
