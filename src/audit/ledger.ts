// The durable audit writer. Records are group-committed: a batch is written with one write, durable
// when it returns (O_DSYNC), whatever its size; a caller's promise resolves only once its record is on
// disk. The records appended while a batch is being made durable form the next batch, cut the moment
// the last is done (AUDIT_COMMIT_INTERVAL_MS 0, the default; at once too when the ledger was idle, or
// when the batch is full). An interval N > 0 spaces batch starts at least N ms apart: fewer, larger
// fsyncs, but each query waits longer, and with a fixed number of terminals in flight latency is
// throughput: in same-run A/B benchmarks 2 ms cost the gateway 12-35% of its throughput, the event loop
// idle while records waited for the timer. A failed write or fsync rejects the batch (the caller
// answers 503), cuts the partial bytes off, and the next batch tries again.
//
// Each gateway process owns one instance directory under AUDIT_DIR (held by a lock file), so records
// of different processes never interleave, and numbers its records 1, 2, 3... across restarts.
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { constants, ftruncateSync, write } from 'node:fs'
import { mkdir, open, readdir, readFile, writeFile, type FileHandle } from 'node:fs/promises'
import { hostname } from 'node:os'
import type { Readable, Writable } from 'node:stream'
import { join } from 'node:path'
import type { KeyObject } from 'node:crypto'
import { canonicalRecord, genesisHash, isoTime, lineHash } from './chain.js'
import { checkpointFile, signCheckpoint } from './checkpoint.js'
import { certainlyValid } from './fast-check.js'
import type { z } from 'zod'
import { auditRecordVersion, eventSchemas, type AuditEvent } from './record.js'

export class AuditUnavailableError extends Error {
  override name = 'AuditUnavailableError'
}

export interface LedgerOptions {
  /** Instance id chosen explicitly: a busy instance directory is then an error. */
  readonly explicit?: boolean
  readonly observer?: LedgerObserver
  /** Longest time between the starts of two batches under load (ms). */
  readonly commitIntervalMs?: number
  /** A batch this large is written at once, without waiting for the interval. */
  readonly maxBatchRecords?: number
  /** Ed25519 key for signed checkpoints; none = no checkpoints (tests of the chain alone). */
  readonly signingKey?: KeyObject
  /** A checkpoint after this many records or seconds, whichever comes first (and at close). */
  readonly checkpointRecords?: number
  readonly checkpointSeconds?: number
  /** Time of day for records and rotation; tests pass their own. */
  readonly clock?: () => number
  /** A segment past this size is closed and the chain goes on in the next (default 64 MiB). */
  readonly segmentBytes?: number
}

export interface LedgerObserver {
  batchWritten(records: number, seconds: number): void
  writeFailed(): void
  /** A record that did not match its schema was refused before it reached a batch (a bug upstream). */
  recordRefused(): void
}

interface Pending {
  readonly time: string
  readonly event: AuditEvent
}

class Batch {
  readonly records: Pending[] = []
  readonly done: Promise<void>
  resolve!: () => void
  reject!: (error: Error) => void
  constructor() {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
    // A record appended without awaiting (an outcome record) must not become an unhandled rejection;
    // callers that await still see the error.
    this.done.catch(() => undefined)
  }
}

/** Why an event would not verify as a record of its type (null when it would). */
function recordProblem(event: AuditEvent, now: number): string | null {
  // The record's time must be one `z.iso.datetime()` accepts: a year of four digits.
  if (!(now >= 0 && now < 253_402_300_800_000)) return `time: ${now} is not a time the ledger can write`
  // The query path's two records, checked without zod when they are certainly valid (fast-check.ts).
  if (certainlyValid(event)) return null
  const schema = eventSchemas[event.type] as z.ZodType | undefined
  if (schema === undefined) return `type: unknown record type ${JSON.stringify(event.type)}`
  const checked = schema.safeParse(event)
  if (checked.success) return null
  const issue = checked.error.issues[0]!
  return `${issue.path.join('.') || '(top)'}: ${issue.message}`
}

const segmentName = (index: number) => `segment-${String(index).padStart(6, '0')}.jsonl`
const noObserver: LedgerObserver = { batchWritten: () => undefined, writeFailed: () => undefined, recordRefused: () => undefined }

/** Instance directories this process holds (a second open in the same process fails at once). */
const heldHere = new Set<string>()

/** flock(1)'s exit code when the lock is taken (our choice, so it cannot be mistaken for another failure). */
const lockBusy = 75

/**
 * An exclusive flock(2) on `dir/lock`, held for as long as this process lives. Node has no flock, so a
 * small `flock` process (util-linux) takes it and holds it while its stdin, a pipe from us, stays open:
 * when we exit, however we exit (kill -9 included), the pipe closes, the holder exits and the kernel
 * releases the lock. A kernel lock is right where a pid in a lock file is not: two containers each run
 * the gateway as pid 1, and a pid says nothing about a process in another PID namespace. The holder
 * runs in its own process group, so a Ctrl-C meant for the gateway does not drop the lock mid-shutdown.
 */
class InstanceLock {
  private released = false
  private constructor(
    private readonly holder: ChildProcessByStdio<Writable, Readable, null>,
    private readonly exited: Promise<void>,
    readonly dir: string,
  ) {}

  /** The lock, or null when another process (in any PID namespace) holds it. */
  static async take(dir: string): Promise<InstanceLock | null> {
    if (heldHere.has(dir)) return null
    const path = join(dir, 'lock')
    // Never removed: unlinking a lock file lets two processes lock two different inodes of one path.
    await writeFile(path, '', { flag: 'a', mode: 0o600 })
    const holder = spawn('flock', ['--exclusive', '--nonblock', '--conflict-exit-code', String(lockBusy), path, '-c', 'echo held && exec cat >/dev/null'], {
      stdio: ['pipe', 'pipe', 'ignore'],
      detached: true,
    })
    const exited = new Promise<number | null>((resolve) => holder.once('exit', (code) => resolve(code)))
    const held = await new Promise<boolean | Error>((resolve) => {
      holder.once('error', (error) => resolve(new Error(`cannot lock ${path}: ${error.message} (the flock command of util-linux is needed)`)))
      holder.stdout.once('data', () => resolve(true))
      void exited.then((code) => resolve(code === lockBusy ? false : new Error(`cannot lock ${path}: flock exited with ${code}`)))
    })
    if (held !== true) {
      holder.stdin.destroy()
      await exited
      if (held === false) return null
      throw held
    }
    holder.stdout.destroy()
    holder.unref()
    heldHere.add(dir)
    const lock = new InstanceLock(holder, exited.then(() => undefined), dir)
    // For a human reading the folder; the kernel lock, not this text, is what excludes.
    await writeFile(path, `${JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() })}\n`, { mode: 0o600 })
    return lock
  }

  /** Called if the holder dies while we still write: the chain is no longer ours alone. */
  onLost(listener: () => void): void {
    void this.exited.then(() => {
      if (!this.released) listener()
    })
  }

  async release(): Promise<void> {
    if (this.released) return
    this.released = true
    // Waited for with a reference, or a process with nothing else to do would exit before it ends.
    this.holder.ref()
    this.holder.stdin.end()
    await this.exited
    heldHere.delete(this.dir)
  }
}

/**
 * The end of the chain in a segment: the last whole record's sequence number and hash, and the
 * length of the whole lines. A torn final line (a crash mid-write) was never acknowledged: it is cut.
 */
async function chainEnd(path: string): Promise<{ seq: number; hash: string; size: number; day: string | null }> {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return ''
    throw error
  })
  const end = text.lastIndexOf('\n')
  if (end === -1) return { seq: 0, hash: genesisHash, size: 0, day: null }
  const start = text.lastIndexOf('\n', end - 1) + 1
  const line = text.slice(start, end)
  const record = JSON.parse(line) as { seq: number; time: string }
  return { seq: record.seq, hash: lineHash(line), size: Buffer.byteLength(text.slice(0, end + 1)), day: record.time.slice(0, 10) }
}

/** What the gateway needs of a ledger: AuditLedger is the one; the benchmark measures without one. */
export interface Ledger {
  readonly writable: boolean
  /** Records appended and not yet in a batch being written. */
  readonly backlog: number
  append(event: AuditEvent, now: number): Promise<void>
  close(): Promise<void>
}

/**
 * Segments are opened with O_DSYNC: each write returns once its data is on disk, so a batch costs one
 * write in the thread pool, where write + fdatasync cost a write on the event loop and a sync in the pool.
 */
const segmentFlags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_DSYNC

/** Writes all of `bytes` at the end of the file, durably (O_DSYNC), off the event loop. */
async function writeDurably(fd: number, bytes: Buffer): Promise<void> {
  let written = 0
  while (written < bytes.length) {
    written += await new Promise<number>((resolve, reject) => write(fd, bytes, written, bytes.length - written, null, (error, count) => (error ? reject(error) : resolve(count))))
  }
}

export class AuditLedger implements Ledger {
  private open = new Batch()
  private flushing = false
  private timer: NodeJS.Timeout | null = null
  private closed = false
  private healthy = true
  private lastFlushStart = 0
  private segmentIndex = 1
  /** The UTC day (YYYY-MM-DD) of the current segment's records; a new day starts a new segment. */
  private segmentDay: string | null = null
  private checkpointedSeq: number
  private lastCheckpointAt = performance.now()
  private checkpointing: Promise<void> = Promise.resolve()
  private instanceLock: InstanceLock | null = null
  /** The instance lock was lost while open: nothing more is written to this chain. */
  private lockLost = false

  private constructor(
    readonly instance: string,
    readonly dir: string,
    private file: FileHandle,
    private size: number,
    private seq: number,
    private hash: string,
    private readonly observer: LedgerObserver,
    private readonly commitIntervalMs: number,
    private readonly maxBatchRecords: number,
    private readonly options: LedgerOptions,
  ) {
    this.checkpointedSeq = seq
  }

  /**
   * Opens the ledger under `auditDir` for `instanceId`. Unless the id was chosen explicitly, a busy
   * instance directory (another live process) moves on to `<id>-2`, `<id>-3`...
   */
  static async open(auditDir: string, instanceId: string, options: LedgerOptions = {}): Promise<AuditLedger> {
    for (let attempt = 1; attempt <= 64; attempt++) {
      const instance = attempt === 1 ? instanceId : `${instanceId}-${attempt}`
      const dir = join(auditDir, instance)
      await mkdir(dir, { recursive: true, mode: 0o700 })
      let instanceLock = await InstanceLock.take(dir)
      // The holder of a process that just died exits a moment after it: an explicit instance (a
      // restarted container) waits that moment before calling the folder busy.
      for (let retry = 0; instanceLock === null && options.explicit === true && retry < 10; retry++) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        instanceLock = await InstanceLock.take(dir)
      }
      if (instanceLock === null) {
        if (options.explicit === true) throw new Error(`audit instance ${instance} is in use by another process (${join(dir, 'lock')})`)
        continue
      }
      try {
        return await AuditLedger.openLocked(instance, dir, instanceLock, options)
      } catch (error) {
        await instanceLock.release()
        throw error
      }
    }
    throw new Error(`no free audit instance directory under ${auditDir}`)
  }

  private static async openLocked(instance: string, dir: string, instanceLock: InstanceLock, options: LedgerOptions): Promise<AuditLedger> {
    const segments = (await readdir(dir)).filter((name) => /^segment-\d{6}\.jsonl$/.test(name)).sort()
    const index = segments.length === 0 ? 1 : Number(segments.at(-1)!.slice(8, 14))
    const path = join(dir, segmentName(index))
    let end = await chainEnd(path)
    // The newest segment may hold no whole record yet (a crash right after rotating): the chain
    // then ends in the segment before it.
    for (let previous = index - 1; end.seq === 0 && previous >= 1; previous--) {
      const earlier = await chainEnd(join(dir, segmentName(previous)))
      if (earlier.seq > 0) end = { ...earlier, size: 0, day: null }
    }
    const file = await open(path, segmentFlags, 0o600)
    const { size } = await file.stat()
    if (size > end.size) await file.truncate(end.size)
    const ledger = new AuditLedger(instance, dir, file, end.size, end.seq, end.hash, options.observer ?? noObserver, options.commitIntervalMs ?? 0, options.maxBatchRecords ?? 1024, options)
    ledger.segmentIndex = index
    ledger.segmentDay = end.day
    ledger.instanceLock = instanceLock
    instanceLock.onLost(() => {
      // Someone killed our lock holder: another process may take the folder now, so we stop writing.
      ledger.lockLost = true
      ledger.healthy = false
      ledger.observer.writeFailed()
    })
    return ledger
  }

  /** Records appended and not yet in a batch being written. */
  get backlog(): number {
    return this.open.records.length
  }

  /** False after a failed write, until a later batch is written. */
  get writable(): boolean {
    return this.healthy && !this.closed
  }

  /**
   * Appends an event; the promise resolves once it is on disk, or rejects with AuditUnavailableError.
   * The event is checked against its record schema here, before it joins a batch: a record that would
   * not verify never reaches the file, and its caller alone is refused (the batch and the records
   * after it go on). The check costs ~0.7 µs for a decision and ~0.25 µs for an outcome (zod 4).
   */
  append(event: AuditEvent, now: number): Promise<void> {
    if (this.closed) return Promise.reject(new AuditUnavailableError('the audit ledger is closed'))
    if (this.lockLost) return Promise.reject(new AuditUnavailableError(`the lock on ${this.dir} was lost: another process may write this chain`))
    const problem = recordProblem(event, now)
    if (problem !== null) {
      this.observer.recordRefused()
      return Promise.reject(new AuditUnavailableError(`a ${String(event.type)} record does not match its schema and was not written: ${problem}`))
    }
    const batch = this.open
    batch.records.push({ time: isoTime(now), event })
    if (!this.flushing) this.schedule()
    return batch.done
  }

  /** Starts the next batch now if the last one started an interval ago (or the batch is full), else then. */
  private schedule(): void {
    const full = this.open.records.length >= this.maxBatchRecords
    if (this.timer !== null && !full) return
    if (this.timer !== null) clearTimeout(this.timer)
    const wait = full ? 0 : this.lastFlushStart + this.commitIntervalMs - performance.now()
    // setImmediate, not a microtask: records appended by other requests in this turn join the batch.
    this.timer = wait <= 0 ? (setImmediate(this.flush) as unknown as NodeJS.Timeout) : setTimeout(this.flush, wait)
  }

  private readonly flush = async (): Promise<void> => {
    this.timer = null
    if (this.flushing || this.open.records.length === 0) return
    this.flushing = true
    this.lastFlushStart = performance.now()
    const batch = this.open
    this.open = new Batch()
    const started = process.hrtime.bigint()
    const day = batch.records[0]!.time.slice(0, 10)
    let seq = this.seq
    let hash = this.hash
    try {
      // Inside the try: whatever fails here (a serializer that throws included) refuses this batch
      // alone; the writer goes on with the next.
      // Sequence numbers and hashes are given here, at write time, so a failed batch leaves no gap.
      // Lines are encoded straight into one buffer: no long string to flatten, one write.
      let bytes = Buffer.allocUnsafe(batch.records.length * 1024)
      let length = 0
      for (const { time, event } of batch.records) {
        seq++
        const line = canonicalRecord(event, { instance: this.instance, prev: hash, seq, time, v: auditRecordVersion })
        hash = lineHash(line)
        // UTF-8 takes at most 3 bytes per UTF-16 unit: room for that is room enough, without measuring.
        const needed = length + line.length * 3 + 1
        if (needed > bytes.length) {
          const grown = Buffer.allocUnsafe(Math.max(needed, bytes.length * 2))
          bytes.copy(grown, 0, 0, length)
          bytes = grown
        }
        length += bytes.write(line, length)
        bytes[length++] = 0x0a
      }
      bytes = bytes.subarray(0, length)
      if (this.size > 0 && (this.size + length > (this.options.segmentBytes ?? 64 * 1024 * 1024) || day !== this.segmentDay)) await this.rotate()
      if (this.segmentDay === null) this.segmentDay = day
      await writeDurably(this.file.fd, bytes)
      this.size += bytes.length
      this.seq = seq
      this.hash = hash
      this.healthy = true
      this.observer.batchWritten(batch.records.length, Number(process.hrtime.bigint() - started) / 1e9)
      batch.resolve()
    } catch (error) {
      this.healthy = false
      this.observer.writeFailed()
      try {
        ftruncateSync(this.file.fd, this.size)
      } catch {
        // the next batch's write will fail and say so
      }
      batch.reject(new AuditUnavailableError(`cannot write the audit ledger: ${(error as Error).message}`, { cause: error }))
    }
    this.flushing = false
    if (this.open.records.length > 0) this.schedule()
    if (this.healthy && this.checkpointDue()) this.checkpoint()
  }

  /** Closes the current segment and opens the next; the chain goes on across them. */
  private async rotate(): Promise<void> {
    await this.file.close()
    this.segmentIndex++
    this.file = await open(join(this.dir, segmentName(this.segmentIndex)), segmentFlags, 0o600)
    this.size = 0
    this.segmentDay = null
  }

  private checkpointDue(): boolean {
    if (this.options.signingKey === undefined || this.seq === this.checkpointedSeq) return false
    return this.seq - this.checkpointedSeq >= (this.options.checkpointRecords ?? 1000) || performance.now() - this.lastCheckpointAt >= (this.options.checkpointSeconds ?? 10) * 1000
  }

  /** Signs the last durable record and appends the checkpoint (durably) beside the chain. */
  private checkpoint(): Promise<void> {
    const key = this.options.signingKey
    if (key === undefined) return Promise.resolve()
    const seq = this.seq
    const hash = this.hash
    this.checkpointedSeq = seq
    this.lastCheckpointAt = performance.now()
    const line = `${JSON.stringify(signCheckpoint(key, { instance: this.instance, seq, hash, time: new Date((this.options.clock ?? Date.now)()).toISOString() }))}\n`
    this.checkpointing = this.checkpointing.then(async () => {
      try {
        const handle = await open(join(this.dir, checkpointFile), 'a', 0o600)
        try {
          await handle.appendFile(line)
          await handle.datasync()
        } finally {
          await handle.close()
        }
      } catch {
        this.observer.writeFailed()
      }
    })
    return this.checkpointing
  }

  /** Writes what is pending, then closes the file and releases the instance directory. */
  async close(): Promise<void> {
    if (this.closed) return
    while (this.flushing || this.open.records.length > 0) {
      if (this.timer !== null) clearTimeout(this.timer)
      this.timer = null
      if (!this.flushing) await this.flush()
      else await new Promise((resolve) => setImmediate(resolve))
    }
    this.closed = true
    if (this.seq !== this.checkpointedSeq) this.checkpoint()
    await this.checkpointing
    await this.file.close()
    await this.instanceLock?.release()
  }
}
