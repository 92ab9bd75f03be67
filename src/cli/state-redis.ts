// What gatewayctl state init|export|import do (state.ts registers the commands): create a Redis store's
// agency registry for a new deployment, back it up to JSON, restore it. Loaded by those actions only,
// when they run: ioredis, the store and the backup's zod schema cost every other command's start (command.ts).
import { createHash, randomUUID } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { Redis } from 'ioredis'
import { z } from 'zod'
import { officerRegistrySchema, registrySchema } from '../audit/record.js'
import { foldOfficerStates } from '../policy/identity.js'
import { RedisStateStore } from '../state/redis.js'
import { recordRegistrySeen, redisTarget, registrySeen, registrySeenFile } from '../state/registry.js'
import { initializeRegistry, RegistryExistsError, sampleAgencies, type RegistryCreator } from '../state/seed.js'
import { StateUnavailableError } from '../state/types.js'
import { CommandFailed, confirm, out, Unreachable, UsageError } from './io.js'
import { appendDurably, openOperatorLedger } from './operator-ledger.js'
import { cliConfig } from './settings.js'

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

/** Runs a state command; a Redis that stops answering midway is Unreachable (exit 3) too. */
export async function onRedis(url: string, command: () => Promise<number>): Promise<number> {
  try {
    return await command()
  } catch (error) {
    if (error instanceof StateUnavailableError) throw new Unreachable(`cannot reach Redis at ${redisTarget(url)} (${error.message.replace(/^Redis: /, '')}); nothing was changed`)
    throw error
  }
}

/**
 * The store, once Redis has answered a PING: the store itself retries quietly (what the gateway
 * wants), so this asks first, to say why not (connection refused, wrong password) in one line.
 */
async function openStore(url: string): Promise<RedisStateStore> {
  const probe = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 5000, commandTimeout: 5000 })
  // The connection's own error (ECONNREFUSED, WRONGPASS) says more than the command's "Connection is closed".
  let connectionError: Error | undefined
  probe.on('error', (error: Error) => (connectionError ??= error))
  try {
    await probe.connect()
    await probe.ping()
  } catch (error) {
    throw new Unreachable(`cannot reach Redis at ${redisTarget(url)} (${(connectionError ?? (error as Error)).message}); nothing was changed`)
  } finally {
    probe.disconnect()
  }
  return RedisStateStore.open({ url, timeoutMs: 5000 })
}

/** Where state init reads and records: STATE_DIR, AUDIT_DIR and POLICY_DIR (the CLI's configuration). */
export interface InitPlaces {
  readonly stateDir: string
  readonly auditDir: string
  readonly policyDir: string
}

/**
 * Creates the agency registry of a new deployment in Redis (with the samples if asked): refused where
 * this STATE_DIR records that the Redis held one (it was lost: restore it), and where Redis holds one
 * (unless `ifNew`: then nothing is done and 'exists' returned). Audited before it applies, under
 * AUDIT_DIR; recorded in STATE_DIR once made or seen, so a later loss is told apart from a new
 * deployment. Tests create their registries through here too, as the CLI does.
 */
export async function createRegistry(url: string, samples: boolean, by: RegistryCreator, places: InitPlaces, ifNew = false, now = Date.now()): Promise<'created' | 'exists'> {
  const target = redisTarget(url)
  // Run where a gateway keeps its STATE_DIR, this knows what Redis cannot: that it held a registry.
  const seen = registrySeen(places.stateDir)
  const store = await openStore(url)
  try {
    const exists = async () => new CommandFailed(`${target} already holds an agency registry (${(await store.list()).length} agencies): state init is only for a new deployment; ${restoreHint}. Nothing was changed.`)
    if (await store.holdsRegistry()) {
      if (!ifNew) throw await exists()
      await recordRegistrySeen(places.stateDir, url, Date.now())
      return 'exists'
    }
    if (seen !== null) {
      throw new CommandFailed(
        `${join(places.stateDir, registrySeenFile)} records that an agency registry was in Redis (${seen.redis}, first seen on ${seen.firstSeen}) and Redis holds none now: ${restoreHint}; state init is only for a new deployment (delete that file only if this truly is one). Nothing was changed.`,
      )
    }
    let agreementVersion = ''
    if (samples) {
      // The policy compiler (yaml) only for the samples' agreement version.
      const [{ loadPolicyDir }, { PolicyError }] = await Promise.all([import('../policy-files.js'), import('../policy/compile.js')])
      try {
        agreementVersion = (await loadPolicyDir(places.policyDir)).agreementVersion
      } catch (error) {
        if (error instanceof PolicyError) throw new CommandFailed(`the sample agencies need the policies' agreement version:\n${error.problems.join('\n')}`)
        throw error
      }
    }
    const nothing = 'nothing was initialized'
    const ledger = await openOperatorLedger(places.auditDir, nothing)
    try {
      await initializeRegistry(store, { samples, agreementVersion, now, target, by, audit: (event) => appendDurably(ledger, event, nothing, now) })
    } catch (error) {
      if (!(error instanceof RegistryExistsError)) throw error
      if (!ifNew) throw await exists()
      await recordRegistrySeen(places.stateDir, url, Date.now())
      return 'exists'
    } finally {
      await ledger.close()
    }
    await recordRegistrySeen(places.stateDir, url, Date.now())
    return 'created'
  } finally {
    await store.close()
  }
}

export async function init(url: string, samples: boolean, by: RegistryCreator, ifNew: boolean): Promise<number> {
  const target = redisTarget(url)
  if ((await createRegistry(url, samples, by, cliConfig(), ifNew)) === 'exists') {
    out(`${target} already holds an agency registry: left as it is (--if-new)`)
    return 0
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

/** What an import changes: per kind, the keys added, replaced (held with other content) and removed. */
interface Change {
  readonly added: string[]
  readonly replaced: string[]
  readonly removed: string[]
  readonly unchanged: number
}

function change<T>(current: readonly T[], incoming: readonly T[], keyOf: (item: T) => string): Change {
  const now = new Map(current.map((item) => [keyOf(item), item]))
  const next = new Map(incoming.map((item) => [keyOf(item), item]))
  const added: string[] = []
  const replaced: string[] = []
  let unchanged = 0
  for (const [key, item] of next) {
    const held = now.get(key)
    if (held === undefined) added.push(key)
    else if (isDeepStrictEqual(held, item)) unchanged++
    else replaced.push(key)
  }
  return { added, replaced, removed: [...now.keys()].filter((key) => !next.has(key)), unchanged }
}

/** `2 added (CA0194200, CA0990000), 0 replaced, 1 removed (CA0990100), 0 unchanged` */
function changeText({ added, replaced, removed, unchanged }: Change): string {
  const keys = (count: readonly string[]) => (count.length === 0 ? '' : ` (${count.join(', ')})`)
  return `${added.length} added${keys(added)}, ${replaced.length} replaced${keys(replaced)}, ${removed.length} removed${keys(removed)}, ${unchanged} unchanged`
}

export async function importRegistry(url: string, file: string, by: RegistryCreator, how: { readonly dryRun: boolean; readonly yes: boolean }): Promise<number> {
  const { bytes, backup } = readBackup(file)
  const config = cliConfig()
  const target = redisTarget(url)
  const store = await openStore(url)
  try {
    const agencies = await store.list()
    const officers = await store.listOfficers(undefined)
    const replaced = agencies.length
    const officersReplaced = officers.length
    const officerKey = (officer: { ori: string; sub: string }) => `${officer.ori}/${officer.sub}`
    // The file's officers under their folded user ids, as the store keeps them: two spellings of one
    // person in a backup made before ids were folded are one officer (the binding state of the two).
    const incoming = foldOfficerStates(backup.officers)
    const summary = () => {
      out(`agencies: ${changeText(change(agencies, backup.agencies, (agency) => agency.ori))}`)
      out(`officer sanction records: ${changeText(change(officers, incoming, officerKey))}`)
    }
    if (how.dryRun) {
      out(`dry run: importing ${file} (exported ${backup.exportedAt}) into ${target} would replace ${replaced} agencies and ${officerRecords(officersReplaced)}:`)
      summary()
      out('nothing was written: not Redis, not the audit ledger')
      return 0
    }
    // Replacing a registry can take access away (an agency or a sanction the file lacks); restoring an empty Redis cannot.
    if (replaced + officersReplaced > 0) {
      if (!how.yes) {
        out(`importing ${file} into ${target} replaces its ${replaced} agencies and ${officerRecords(officersReplaced)}:`)
        summary()
      }
      await confirm(`replace the agency registry in ${target} with ${file}`, 'replace', how.yes)
    }
    const nothing = 'nothing was imported'
    const ledger = await openOperatorLedger(config.auditDir, nothing)
    try {
      const id = randomUUID()
      const sha256 = createHash('sha256').update(bytes).digest('hex')
      await appendDurably(ledger, { type: 'operator.import', id, operator: by.operator, source: by.source, reason: by.reason, target, file, sha256, agencies: backup.agencies.length, replaced, officers: incoming.length, officersReplaced }, nothing)
      try {
        await store.importRegistry(backup.agencies, incoming)
      } catch (error) {
        // The record said the registry was replaced; say that it was not.
        await ledger.append({ type: 'operator.failed', id, code: 'state_unavailable' }, Date.now()).catch(() => undefined)
        throw error
      }
    } finally {
      await ledger.close()
    }
    out(`imported ${backup.agencies.length} agencies and ${officerRecords(incoming.length)} (exported ${backup.exportedAt}) into ${target}, replacing ${replaced} and ${officersReplaced}; audited in ${config.auditDir}`)
    return 0
  } finally {
    await store.close()
  }
}

export async function exportRegistry(url: string, outFile: string | undefined): Promise<number> {
  const store = await openStore(url)
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
