// gatewayctl state export|import: back up the agency registry of a Redis store to JSON and restore it,
// so DOJ can rebuild a Redis that was lost. Import replaces the whole registry in one transaction.
import { readFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { z } from 'zod'
import { agencyStateSchema } from '../audit/record.js'
import { RedisStateStore } from '../state/redis.js'
import { out, UsageError } from './io.js'

export const stateUsage = `  gatewayctl state export [--redis URL] [--out FILE]   (REDIS_URL by default; stdout by default)
  gatewayctl state import FILE [--redis URL]`

const backupSchema = z.strictObject({
  format: z.literal('clets-agency-registry/1'),
  exportedAt: z.string(),
  agencies: z.array(agencyStateSchema),
})

export async function state(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { redis: { type: 'string' }, out: { type: 'string' } }, allowPositionals: true })
  const [action, file, ...rest] = positionals
  const url = values.redis ?? process.env.REDIS_URL
  if (url === undefined) throw new UsageError('state commands need the Redis: --redis URL or REDIS_URL (the embedded store is backed up by copying STATE_DIR)')
  if (rest.length > 0 || (action === 'import' && file === undefined) || (action !== 'import' && action !== 'export')) throw new UsageError(stateUsage)

  let backup: z.infer<typeof backupSchema> | undefined
  if (action === 'import') {
    const parsed = backupSchema.safeParse(JSON.parse(readFileSync(file!, 'utf8')))
    if (!parsed.success) {
      throw new UsageError(`${file}: not a registry backup:\n${parsed.error.issues.map((issue) => `  ${issue.path.join('.') || '(top)'}: ${issue.message}`).join('\n')}`)
    }
    backup = parsed.data
  }
  const store = await RedisStateStore.open({ url, timeoutMs: 5000, seedWhenEmpty: false })
  try {
    if (backup !== undefined) {
      await store.importRegistry(backup.agencies)
      out(`imported ${backup.agencies.length} agencies (exported ${backup.exportedAt}) into ${url.replace(/\/\/[^@]*@/, '//')}`)
      return 0
    }
    const agencies = await store.exportRegistry()
    const text = `${JSON.stringify({ format: 'clets-agency-registry/1', exportedAt: new Date().toISOString(), agencies }, null, 2)}\n`
    if (values.out === undefined) process.stdout.write(text)
    else {
      writeFileSync(values.out, text, { mode: 0o600 })
      out(`exported ${agencies.length} agencies to ${values.out}`)
    }
    return 0
  } finally {
    await store.close()
  }
}
