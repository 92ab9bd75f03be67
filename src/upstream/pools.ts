// The databases behind the gateway: one undici Pool per backend. Each forward is bounded twice: by a
// deadline on the whole answer (UPSTREAM_TIMEOUT_MS, from sending the query to the last byte) and by
// a size limit (UPSTREAM_MAX_ANSWER_BYTES), checked on the declared length and on every chunk.
// Failures become catalogued errors: unreachable, failing or oversized -> 502, too slow -> 504.
import { Pool, type Dispatcher } from 'undici'
import { GatewayError } from '../errors.js'
import type { DatabasePolicy } from '../policy/types.js'

export interface UpstreamOptions {
  readonly connectTimeoutMs: number
  /** The whole forward: from sending the query (a wait for a free connection included) to the last byte. */
  readonly timeoutMs: number
  readonly connections: number
  readonly maxAnswerBytes: number
}

export interface UpstreamAnswer {
  /** The records as the database sent them: the text of one JSON array, parsed to check it, passed on unchanged. */
  readonly recordsJson: string
  /** The same records, parsed (to check them): what a projection copies its fields from. */
  readonly records: readonly object[]
  readonly recordCount: number
}

const timeoutCodes = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT'])
// A flat array: undici takes it without walking an object's keys.
const jsonHeaders = ['content-type', 'application/json']

/** True when every record is an object. A loop, not every(): this runs per query. */
function onlyObjects(records: unknown[]): boolean {
  for (let i = 0; i < records.length; i++) {
    const record = records[i]
    if (record === null || typeof record !== 'object' || Array.isArray(record)) return false
  }
  return true
}

/** JSON's four whitespace characters. */
function isJsonWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09
}

/**
 * The text of the records member when the answer has the one shape a database may send,
 * `{"records": …}` with whitespace where JSON allows it, else null. Only that text is parsed, not the
 * whole answer, so what is forwarded is exactly what was checked: parsing the whole answer, a
 * duplicated key made JSON.parse check the last array while the text of both went out. Character
 * codes, not a regular expression: this runs per query, on answers of any length.
 */
function recordsMember(text: string): string | null {
  let at = 0
  while (isJsonWhitespace(text.charCodeAt(at))) at++
  if (text.charCodeAt(at) !== 0x7b) return null // {
  at++
  while (isJsonWhitespace(text.charCodeAt(at))) at++
  if (!text.startsWith('"records"', at)) return null
  at += 9
  while (isJsonWhitespace(text.charCodeAt(at))) at++
  if (text.charCodeAt(at) !== 0x3a) return null // :
  let end = text.length - 1
  while (end > at && isJsonWhitespace(text.charCodeAt(end))) end--
  if (end <= at || text.charCodeAt(end) !== 0x7d) return null // }
  return text.slice(at + 1, end)
}

/** Whitespace right before a colon, anywhere in a text. */
const spaceBeforeColon = /[ \t\r\n]:/

/**
 * An upper bound on the member names a JSON text spells, or -1 when there is none this cheap: the
 * occurrences of `":`. When no whitespace comes before a colon anywhere, every name's closing quote is
 * followed by its colon, so each name is one occurrence (and `\":` inside a string one more). One
 * native search per name.
 */
function namesSpelledAtMost(text: string): number {
  if (spaceBeforeColon.test(text)) return -1
  let count = 0
  for (let at = text.indexOf('":'); at !== -1; at = text.indexOf('":', at + 2)) count++
  return count
}

/**
 * How many member names a JSON text spells: strings followed (after whitespace) by a colon. The text
 * has parsed already, so there is no quote outside a string and the next quote after a string opens
 * the next one: indexOf from string to string, not a loop over every character.
 */
function memberNamesSpelled(text: string): number {
  let count = 0
  let at = text.indexOf('"')
  while (at !== -1) {
    let end = text.indexOf('"', at + 1)
    // A quote after an odd run of backslashes is part of the string.
    while (text.charCodeAt(end - 1) === 0x5c) {
      let backslash = end - 1
      while (text.charCodeAt(backslash - 1) === 0x5c) backslash--
      if ((end - backslash) % 2 === 0) break
      end = text.indexOf('"', end + 1)
    }
    let next = end + 1
    while (isJsonWhitespace(text.charCodeAt(next))) next++
    if (text.charCodeAt(next) === 0x3a) count++ // :
    at = text.indexOf('"', next)
  }
  return count
}

/** How many members the parsed value's objects hold, at every depth. */
function membersHeld(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0
  let count = 0
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) count += membersHeld(value[i])
    return count
  }
  // JSON.parse's objects have only own members (a "__proto__" member too), and no inherited enumerable ones.
  for (const key in value) count += 1 + membersHeld((value as Record<string, unknown>)[key])
  return count
}

/**
 * True when an object of the text names a member twice (`{"status":"VALID","status":"REVOKED"}`, or
 * the same name spelled with escapes). JSON.parse keeps the last; a terminal's parser may keep the
 * first: such an answer means what its reader decides, so it is refused, not forwarded. Each name the
 * text spells is a member of the parsed value unless an earlier one had the same name, so the names
 * spelled outnumber the members held exactly when a name repeats: no set of names is built. The cheap
 * bound settles what databases write (compact JSON, or `"name": value`); the scan of every string runs
 * only when it does not (bench/duplicate-members.ts measures both). Exported for its test.
 */
export function namesAMemberTwice(text: string, parsed: unknown): boolean {
  const held = membersHeld(parsed)
  if (namesSpelledAtMost(text) === held) return false
  return memberNamesSpelled(text) !== held
}

/** Maps an undici or socket failure to the catalogued 502/504. */
function upstreamFailure(error: unknown): GatewayError {
  const code = (error as { code?: string }).code
  if (code !== undefined && timeoutCodes.has(code)) return new GatewayError('upstream_timeout', undefined, [], { cause: error })
  return new GatewayError('upstream_unavailable', undefined, [], { cause: error })
}

/**
 * One forward, and undici's handler for it (the dispatch API). request() + body.text() would build a
 * Readable stream and several closures per query and read on until the body ends; this one object per
 * query counts the answer's bytes as they arrive and cuts the connection the moment the answer is too
 * long or too late, so no more than the limit is ever held.
 */
class Forward implements Dispatcher.DispatchHandler {
  readonly answer: Promise<string>
  private resolve!: (text: string) => void
  private reject!: (error: GatewayError) => void
  private controller: Dispatcher.DispatchController | null = null
  timer: NodeJS.Timeout | null = null
  private chunks: Buffer[] = []
  private bytes = 0
  /** The answer promise is settled; what undici reports afterwards only tidies up. */
  private settled = false
  /** undici is done with the request (answer complete, or failed): nothing is left to abort. */
  private finished = false
  private failure: GatewayError | null = null

  constructor(private readonly maxBytes: number) {
    // No closure for the executor: the module-level one reads the forward being built from a slot,
    // which is safe because a Promise runs its executor synchronously.
    building = this
    this.answer = new Promise(takeSettlers)
    building = null
  }

  settlers(resolve: (text: string) => void, reject: (error: GatewayError) => void): void {
    this.resolve = resolve
    this.reject = reject
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller
    // The deadline passed while the query waited for a connection: it is not sent at all.
    if (this.failure !== null) controller.abort(this.failure)
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    // undici reports informational answers (103 Early Hints) here too; the answer follows them.
    if (statusCode < 200) return
    if (statusCode !== 200) {
      // Refused at once; the error's body is read and dropped (within the same limits) so the
      // connection can serve the next query.
      this.fail(new GatewayError('upstream_error', `the database answered HTTP ${statusCode}`))
      return
    }
    const declared = headers['content-length']
    if (declared !== undefined && Number(declared) > this.maxBytes) this.cutOff(controller)
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.bytes += chunk.length
    if (this.bytes > this.maxBytes) this.cutOff(controller)
    else if (!this.settled) this.chunks.push(chunk)
  }

  onResponseEnd(): void {
    this.done()
    if (this.settled) return
    this.settled = true
    const chunks = this.chunks
    this.chunks = []
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.bytes)
    // A UTF-8 byte order mark is skipped, as undici's body.text() does.
    const start = body.length > 2 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0
    this.resolve(body.toString('utf8', start))
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.done()
    // After cutOff or the deadline this is the abort coming back: the forward has already failed.
    this.fail(upstreamFailure(error))
  }

  deadlinePassed(): void {
    this.timer = null
    this.fail(new GatewayError('upstream_timeout'))
    if (!this.finished && this.controller !== null) this.controller.abort(this.failure!)
  }

  private cutOff(controller: Dispatcher.DispatchController): void {
    this.fail(new GatewayError('upstream_too_large', `the database's answer is longer than the ${this.maxBytes}-byte limit`))
    controller.abort(this.failure!)
  }

  private fail(error: GatewayError): void {
    if (this.settled) return
    this.settled = true
    this.failure = error
    this.chunks = []
    this.reject(error)
  }

  private done(): void {
    this.finished = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }
}

let building: Forward | null = null
function takeSettlers(resolve: (text: string) => void, reject: (error: GatewayError) => void): void {
  building!.settlers(resolve, reject)
}

/** The timer's callback, with the forward as its argument: one function for every query, not a closure each. */
function onDeadline(forward: Forward): void {
  forward.deadlinePassed()
}

export class Upstreams {
  private readonly pools: Record<DatabasePolicy['backend'], Pool>
  private readonly timeoutMs: number
  private readonly maxAnswerBytes: number

  constructor(urls: Readonly<Record<DatabasePolicy['backend'], string>>, options: UpstreamOptions) {
    const pool = (url: string) =>
      new Pool(url, {
        connections: options.connections,
        connect: { timeout: options.connectTimeoutMs },
        // Bounds on each socket's waits; the forward's own deadline below bounds the whole answer.
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
        keepAliveTimeout: 30_000,
      })
    this.pools = { dmv: pool(urls.dmv), criminal_history: pool(urls.criminal_history) }
    this.timeoutMs = options.timeoutMs
    this.maxAnswerBytes = options.maxAnswerBytes
  }

  /** Sends the subject to the database's search endpoint; throws GatewayError on any failure. */
  async search(database: DatabasePolicy, subject: unknown): Promise<UpstreamAnswer> {
    const forward = new Forward(this.maxAnswerBytes)
    // Armed before dispatch, which may report a failure synchronously (a closed pool).
    forward.timer = setTimeout(onDeadline, this.timeoutMs, forward)
    this.pools[database.backend].dispatch({ method: 'POST', path: database.path, headers: jsonHeaders, body: JSON.stringify(subject) }, forward)
    const text = await forward.answer
    const recordsJson = recordsMember(text)
    if (recordsJson === null) throw new GatewayError('upstream_error', 'the database answered something other than {"records": [...]}')
    let records: unknown
    try {
      // Anything after the array (a second "records" member, say) makes this text invalid JSON.
      records = JSON.parse(recordsJson)
    } catch (error) {
      throw new GatewayError('upstream_error', 'the database answered with invalid JSON, or with more than one records member', [], { cause: error })
    }
    if (!Array.isArray(records) || !onlyObjects(records)) throw new GatewayError('upstream_error', 'the database answered without a list of records')
    let ambiguous: boolean
    try {
      ambiguous = records.length > 0 && namesAMemberTwice(recordsJson, records)
    } catch (error) {
      // Nesting deeper than the stack: no record of a database is shaped so.
      if (!(error instanceof RangeError)) throw error
      throw new GatewayError('upstream_error', 'the database answered records nested too deeply', [], { cause: error })
    }
    if (ambiguous) throw new GatewayError('upstream_error', 'the database answered a record that names a member twice (its meaning would depend on the parser that reads it)')
    return { recordsJson, records: records as object[], recordCount: records.length }
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.pools).map((pool) => pool.close()))
  }
}
