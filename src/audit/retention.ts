// Audit retention (issue 13, point 6). The FBI CJIS Security Policy asks that audit records be kept at
// least one year and protected from deletion (docs/facts.md; a longer CLETS retention is unverified), so
// AUDIT_RETENTION_DAYS is at least 365 and the gateway never deletes a segment: `gatewayctl audit
// retention` only lists the closed segments whose newest record is older than the retention, which DOJ
// may archive by its own procedure. Removing segments would cut the chain `audit verify` checks from
// its first record; that is not built.
import { open, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'

export interface SegmentAge {
  instance: string
  segment: string
  bytes: number
  /** The time of the segment's newest record (null for a segment without a whole record). */
  newest: string | null
  pastRetention: boolean
}

/** The time of the last whole record of a segment, read from its end. */
async function newestRecord(path: string, size: number): Promise<string | null> {
  const length = Math.min(size, 1 << 20)
  const file = await open(path, 'r')
  try {
    const buffer = Buffer.alloc(length)
    await file.read(buffer, 0, length, size - length)
    const lines = buffer.toString('utf8').split('\n').filter((line) => line !== '')
    for (let i = lines.length - 1; i >= 0; i--) {
      const time = /"time":"([^"]+)"/.exec(lines[i]!)?.[1]
      if (time !== undefined && !Number.isNaN(Date.parse(time))) return time
    }
    return null
  } finally {
    await file.close()
  }
}

/** Every segment of every chain under `auditDir`, with whether it is past `retentionDays` at `now`. The last segment of a chain is open: never past. */
export async function segmentAges(auditDir: string, retentionDays: number, now: number): Promise<SegmentAge[]> {
  const cutoff = now - retentionDays * 86_400_000
  const ages: SegmentAge[] = []
  const instances = (await readdir(auditDir, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort()
  for (const instance of instances) {
    const segments = (await readdir(join(auditDir, instance))).filter((name) => /^segment-\d{6}\.jsonl$/.test(name)).sort()
    for (const [index, segment] of segments.entries()) {
      const path = join(auditDir, instance, segment)
      const { size } = await stat(path)
      const newest = size === 0 ? null : await newestRecord(path, size)
      const closed = index < segments.length - 1
      ages.push({ instance, segment, bytes: size, newest, pastRetention: closed && newest !== null && Date.parse(newest) < cutoff })
    }
  }
  return ages
}
