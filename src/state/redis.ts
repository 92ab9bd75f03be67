// The Redis store: agency state and rate limits shared by every gateway instance.
//
// Hot path: one round trip per query, the `admit` script below (the queries of one event-loop turn
// share one call of it, so a query never waits for more than its one round trip). It checks that
// Redis holds a registry at all (a marker key, written by `gatewayctl state init`, a demo gateway's
// seeding, an import or any operator write: a Redis that restarted empty reads as "unknown", refused
// with 503, never as "not suspended"), runs the GCRA for the officer and the agency atomically, and returns the agency's
// state version, with the state itself only when that version differs from this instance's copy. So a
// sanction written by any instance binds the next query on every instance, and the copy is refreshed
// only when it moved. Pub/sub drops copies early; a lost message costs nothing but a refresh.
// Time comes from the Redis server (TIME), so a suspension's `until` lapses at the same instant on
// every instance; tests pass their own clock instead.
// Officers' sanctions (issue 12) live in one hash, a field per sanctioned officer (officerKey, the same
// string that names the officer's rate field), and the script returns the officer's field with each
// query: nothing (a nil) for the officer DOJ never sanctioned, which is nearly every query, so a sanction
// imposed through any instance binds that officer's next query on every instance, at the cost of one
// HGET inside the script and no extra argument. The field names the person (the user id folded, NFKC
// and lower case); fields written under another spelling before ids were folded are folded, once, each
// time the connection becomes ready (foldOfficerSpellings).
//
// Operator writes: read, compute (the same pure changes as the embedded store), audit, then a
// compare-and-set script on the version. Commands are never queued while disconnected nor resent after
// a reconnect, and time out fast: a fault answers 503, never a stale allow or a replayed write.
import { Redis } from 'ioredis'
import { bindingOfficerState, foldOfficerStates, foldUserId } from '../policy/identity.js'
import type { Agreement, AgencyState, OfficerSanction, OfficerState, Sanction } from '../policy/types.js'
import { agreementChange, filingChange, officerSanctionChange, registerChange, sanctionChange, storedAgency } from './changes.js'
import { joinReview, reviewBoundKey, reviewListLimit, type ReviewItem, type ReviewOpened } from './types.js'
import { proposalKeepUntil, proposalListLimit, requestKeepUntil, requestListLimit, type FilingChange, type FilingFigures, type MisuseFiling, type ProposedChange, type WrittenRequest } from './types.js'
import {
  noRegistryMessage,
  officerKey,
  StateUnavailableError,
  type Admission,
  type AgencyChange,
  type AgencyRegistration,
  type BeforeCommit,
  type OfficerChange,
  type RateLimits,
  type StateReadiness,
  type StateStore,
} from './types.js'

/** Raised when another operator changed the agency between our read and our write. */
export class AgencyConflictError extends Error {
  override name = 'AgencyConflictError'
}

/** Raised when another operator recorded the agency's filing for the year between our read and our write. */
export class FilingConflictError extends Error {
  override name = 'FilingConflictError'
}

/** Raised when another operator changed the officer's sanction between our read and our write. */
export class OfficerConflictError extends Error {
  override name = 'OfficerConflictError'
}

const prefix = 'clets:'
const markerKey = `${prefix}initialized`
const agenciesKey = `${prefix}agencies`
const changedChannel = `${prefix}agency-changed`
const agencyKey = (ori: string) => `${prefix}agency:${ori}`
/** The officers DOJ sanctioned: field officerKey(ori, sub) -> the officer's state (JSON). */
const officersKey = `${prefix}officers`
/** Misuse filings of a year (issue 13): field ORI -> the filing (JSON). */
const filingsKey = (year: number) => `${prefix}filings:${year}`

// One script call admits every query of an event-loop turn, in order, so the queries of one turn share
// one command and one round trip. KEYS: the marker, the officers hash, then per query its agency hash
// and its agency's rate hash (one field per officer and one for the agency, each a GCRA theoretical
// arrival time). ARGV: the officer limit and window (ms) and the agency limit and window, then per
// query the version of our copy, the officer's field, and the test clock ('' = the server's TIME). The
// reply: 0 for "no registry", else 1 and per query nine values: now, version, state (only when the
// version moved), limited (0, 1 officer, 2 agency), retry ms, officer remaining, agency remaining,
// officer reset ms, and the officer's sanction state (nil for an officer never sanctioned).
// Written for the interpreter: locals for globals, the GCRA inline, four commands for an admitted
// query (HGET of the version, HMGET, HSET, HGET of the officer) and three for a limited one, plus one
// PEXPIRE per rate hash per call. An unregistered ORI's query is never rate-written: it is refused
// (agency.unknown) whatever its rate, and leaves no key behind. The rate
// hash expires a window after its last write (the writes of one call share Redis's instant), when every
// time in it is past (so it reads as empty). Times go to HSET as Lua numbers, which Redis writes with
// every digit needed to read them back exactly (string.format cost more than the HSET itself).
const admitScript = `
local call = redis.call
if call('EXISTS', KEYS[1]) == 0 then return {0} end
local officers = KEYS[2]
local tonumber, floor, ceil, max = tonumber, math.floor, math.ceil, math.max
local uWindow, aWindow = tonumber(ARGV[2]), tonumber(ARGV[4])
local uInterval, aInterval = uWindow / tonumber(ARGV[1]), aWindow / tonumber(ARGV[3])
local ttl = ceil(max(uWindow, aWindow))
local expiring = {}
local serverNow = nil
local out = {1}
local n = 1
for q = 0, (#KEYS - 2) / 2 - 1 do
  local agencyKey, rateKey = KEYS[3 + q * 2], KEYS[4 + q * 2]
  local a = 4 + q * 3
  local now = ARGV[a + 3]
  if now ~= '' then
    now = tonumber(now)
  else
    if not serverNow then
      local t = call('TIME')
      serverNow = tonumber(t[1]) * 1000 + floor(tonumber(t[2]) / 1000)
    end
    now = serverNow
  end
  local userField = ARGV[a + 2]
  -- The agency first: an unregistered ORI's query is refused whatever its rate, so it writes no rate
  -- hash (a flood from a token of an unknown agency leaves no key behind in Redis).
  local version = call('HGET', agencyKey, 'version')
  local tats = call('HMGET', rateKey, userField, 'agency')
  local start = tonumber(tats[1])
  if not start or start < now then start = now end
  local uTat = start + uInterval
  local uOk = now >= uTat - uWindow
  local uRetry, uRemaining, uReset = 0, 0, start - now
  if uOk then uRemaining = floor((uWindow - (uTat - now)) / uInterval); uReset = uTat - now else uRetry = uTat - uWindow - now end
  local aStart = tonumber(tats[2])
  if not aStart or aStart < now then aStart = now end
  local aTat = aStart + aInterval
  local aOk = now >= aTat - aWindow
  local aRetry, aRemaining = 0, 0
  if aOk then aRemaining = floor((aWindow - (aTat - now)) / aInterval) else aRetry = aTat - aWindow - now end
  local limited = 0
  if not uOk then limited = 1 elseif not aOk then limited = 2 end
  if limited == 0 and version then
    call('HSET', rateKey, userField, uTat, 'agency', aTat)
    if not expiring[rateKey] then
      call('PEXPIRE', rateKey, ttl)
      expiring[rateKey] = true
    end
  end
  local state = false
  if version and version ~= ARGV[a + 1] then state = call('HGET', agencyKey, 'state') end
  out[n + 1] = now
  out[n + 2] = version
  out[n + 3] = state
  out[n + 4] = limited
  out[n + 5] = ceil(max(uRetry, aRetry))
  out[n + 6] = uRemaining
  out[n + 7] = aRemaining
  out[n + 8] = ceil(uReset)
  out[n + 9] = call('HGET', officers, userField)
  n = n + 9
end
return out
`

const applyScript = `
local current = redis.call('HGET', KEYS[1], 'version') or '0'
if current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'state', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('SET', KEYS[3], '1')
redis.call('PUBLISH', ARGV[5], ARGV[4])
return 1
`

// An officer's sanction (or a misuse filing: any field of a registered agency), compare-and-set on the
// whole state as it was read ('' for none), and only for an agency that is registered. KEYS: the
// officers hash (or the year's filings hash), the agency hash. ARGV: the officer's field, the
// state read, the new state. Returns -1 (no such agency), 0 (changed meanwhile) or 1.
const applyOfficerScript = `
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if current ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`

// Officers' fields of one person under other spellings folded into one: KEYS: the officers hash. ARGV:
// the folded field, its state as read ('' for none), the binding state, then pairs of (old field, its
// state as read). Applies only if nothing changed meanwhile (0; the next fold tries again), else 1.
const foldOfficersScript = `
local hash = KEYS[1]
if (redis.call('HGET', hash, ARGV[1]) or '') ~= ARGV[2] then return 0 end
for i = 4, #ARGV, 2 do
  if redis.call('HGET', hash, ARGV[i]) ~= ARGV[i + 1] then return 0 end
end
redis.call('HSET', hash, ARGV[1], ARGV[3])
for i = 4, #ARGV, 2 do redis.call('HDEL', hash, ARGV[i]) end
return 1
`

// Creates the registry only where there is none: the marker and the agency set are checked and the
// marker set in one step, so two instances (or an instance and gatewayctl) cannot both create one.
const initializeScript = `
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('SCARD', KEYS[2]) > 0 then return 0 end
redis.call('SET', KEYS[1], '1')
return 1
`

// Issue 12, point 5: written requests. Each is a hash (version, state) under clets:request:<id>, indexed
// newest first in clets:requests and clets:requests:<ori> (scored by filing time), the pending ones of
// an agency in the set clets:requests-pending:<ori>. A save is one script: compare the version, write,
// index, and set the key's expiry (finished requests are kept requestRetentionMs, pending ones
// always). An expired request leaves its id in the indexes; a listing drops such ids as it meets them.
const requestKey = (id: string) => `${prefix}request:${id}`
const requestsKey = `${prefix}requests`
const agencyRequestsKey = (ori: string) => `${prefix}requests:${ori}`
const pendingRequestsKey = (ori: string) => `${prefix}requests-pending:${ori}`

// KEYS: the request, the index, the agency's index, the agency's pending set. ARGV: expected version
// ('0' = none), new version, state, id, score (filing ms), '1' when pending, expiry ms ('0' = none).
const saveRequestScript = `
local current = redis.call('HGET', KEYS[1], 'version') or '0'
if current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'state', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])
if ARGV[6] == '1' then redis.call('SADD', KEYS[4], ARGV[4]) else redis.call('SREM', KEYS[4], ARGV[4]) end
if ARGV[7] == '0' then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[7]) end
return 1
`

// Two-person control: each proposed change is a hash (version, state) under clets:proposal:<id>, indexed
// newest first in clets:proposals (scored by the time it was proposed). A save is one script, so the
// compare-and-set on the version is atomic across instances: of two approvals of one proposal, on any
// instances, exactly one claims it. The key expires after the proposal's retention; a listing drops
// the ids of expired ones from the index as it meets them.
const proposalKey = (id: string) => `${prefix}proposal:${id}`
const proposalsKey = `${prefix}proposals`

// KEYS: the proposal, the index. ARGV: expected version ('0' = none), new version, state, id, score
// (proposal ms), expiry ms (at least 1).
const saveProposalScript = `
local current = redis.call('HGET', KEYS[1], 'version') or '0'
if current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'state', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1
`

// The review queue: each item is a hash (version, state) under clets:review:<id>, indexed newest first
// in clets:reviews (scored by when it was opened); clets:review-open:<bound key> names the open item of
// that key, and clets:review-alias:<id> the item an opening joined. Items and aliases are kept (the
// queue is the oversight's record; a flood joins open items instead of adding new ones). Every write
// is one script comparing versions, so openings and findings on any instances never overwrite each other.
const reviewKey = (id: string) => `${prefix}review:${id}`
const reviewsKey = `${prefix}reviews`
const reviewOpenKey = (item: ReviewItem) => `${prefix}review-open:${reviewBoundKey(item)}`
const reviewAliasKey = (id: string) => `${prefix}review-alias:${id}`

// KEYS: the item, the index, the bound key's open marker, an alias key ('' unused). ARGV: expected
// version ('0' = none), new version, state, id, score (opened ms), expected open item ('' = none),
// open ('1': mark it open under its key; '0': free the key if it names this item), alias target ('' none).
const saveReviewScript = `
local current = redis.call('HGET', KEYS[1], 'version') or '0'
if current ~= ARGV[1] then return 0 end
local open = redis.call('GET', KEYS[3]) or ''
if ARGV[6] ~= '*' and open ~= ARGV[6] then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'state', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
if ARGV[7] == '1' then redis.call('SET', KEYS[3], ARGV[4]) elseif open == ARGV[4] then redis.call('DEL', KEYS[3]) end
if ARGV[8] ~= '' then redis.call('SET', KEYS[4], ARGV[4]) end
return 1
`

/** 0 (no registry), or 1 followed by nine values per query (see the script). */
type AdmitReply = (number | string | null)[]
/** The most queries one script call admits: a longer script would hold Redis (single-threaded) too long. */
const maxAdmitsPerCall = 256

interface ScriptedRedis extends Redis {
  clets_admit(numberOfKeys: number, ...keysThenArgs: string[]): Promise<AdmitReply>
  clets_apply(agency: string, agencies: string, marker: string, ...args: string[]): Promise<number>
  clets_apply_officer(officers: string, agency: string, field: string, read: string, state: string): Promise<number>
  clets_initialize(marker: string, agencies: string): Promise<number>
  clets_fold_officers(officers: string, ...args: string[]): Promise<number>
  clets_save_request(request: string, index: string, agencyIndex: string, pending: string, ...args: string[]): Promise<number>
  clets_save_proposal(proposal: string, index: string, ...args: string[]): Promise<number>
  clets_save_review(review: string, index: string, open: string, alias: string, ...args: string[]): Promise<number>
}

interface PendingAdmit {
  readonly ori: string
  /** The copy whose version was sent: if Redis says it is current, it is this one (pub/sub may drop it meanwhile). */
  copy?: AgencyState | undefined
  readonly userKey: string
  readonly limits: RateLimits
  readonly now: number
  readonly resolve: (admission: Admission) => void
  readonly reject: (error: unknown) => void
}

export interface RedisStoreOptions {
  readonly url: string
  /** Longest wait for any Redis command (ms); past it the query is refused with 503. */
  readonly timeoutMs: number
  /** Tests pass a clock; production uses the Redis server's TIME. */
  readonly clock?: () => number
  readonly observer?: { roundTrip(seconds: number): void; failed(): void }
  /** Told how many officers' fields under other spellings were folded into one, when any were. */
  readonly onOfficersFolded?: (count: number) => void
}

/** A connection for the query path: no offline queue, no retry of a command, every command bounded by timeoutMs. */
export function connect(url: string, timeoutMs: number): ScriptedRedis {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    commandTimeout: timeoutMs,
    connectTimeout: timeoutMs,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
  }) as ScriptedRedis
  // Errors surface on the commands; the connection's own events would otherwise be unhandled.
  redis.on('error', () => undefined)
  return redis
}

export class RedisStateStore implements StateStore {
  private readonly copies = new Map<string, AgencyState>()
  /**
   * The officers' states the script returned, by officerKey, with the text they were parsed from: an
   * officer with a sanction (or reinstated, whose field stays) gets the same text back on every query,
   * parsed once. Only officers DOJ has sanctioned are here.
   */
  private readonly officerCopies = new Map<string, { readonly text: string; readonly sanction: OfficerSanction | null }>()
  /** When a query-path round trip last succeeded (performance.now ms). */
  private lastFresh = performance.now()

  private constructor(
    private readonly redis: ScriptedRedis,
    private readonly subscriber: Redis,
    private readonly options: RedisStoreOptions,
  ) {}

  /** Connects (a Redis that is down now is not fatal: queries answer 503 until it is back). */
  static async open(options: RedisStoreOptions): Promise<RedisStateStore> {
    const redis = connect(options.url, options.timeoutMs)
    // No fixed number of keys: the first argument gives it (two per query, plus the marker and the officers hash).
    redis.defineCommand('clets_admit', { lua: admitScript })
    redis.defineCommand('clets_apply', { numberOfKeys: 3, lua: applyScript })
    redis.defineCommand('clets_apply_officer', { numberOfKeys: 2, lua: applyOfficerScript })
    redis.defineCommand('clets_initialize', { numberOfKeys: 2, lua: initializeScript })
    redis.defineCommand('clets_fold_officers', { numberOfKeys: 1, lua: foldOfficersScript })
    redis.defineCommand('clets_save_request', { numberOfKeys: 4, lua: saveRequestScript })
    redis.defineCommand('clets_save_proposal', { numberOfKeys: 2, lua: saveProposalScript })
    redis.defineCommand('clets_save_review', { numberOfKeys: 4, lua: saveReviewScript })
    const subscriber = connect(options.url, options.timeoutMs)
    const store = new RedisStateStore(redis, subscriber, options)
    subscriber.on('message', (_channel: string, ori: string) => store.copies.delete(ori))
    // After a reconnect the subscription is renewed (ioredis does it); messages sent meanwhile are lost,
    // which costs only a refresh, since admit compares versions anyway.
    await Promise.all([redis.connect().catch(() => undefined), subscriber.connect().then(() => subscriber.subscribe(changedChannel)).catch(() => undefined)])
    // Sanctions stored under another spelling of a user id (before ids were folded, or by an older
    // instance during an upgrade) are folded before the first query, and again whenever the connection
    // is re-established; a failure leaves them for the next connection.
    const fold = () =>
      store.foldOfficerSpellings().then((count) => {
        if (count > 0) options.onOfficersFolded?.(count)
      }, () => undefined)
    if (redis.status === 'ready') await fold()
    redis.on('ready', () => void fold())
    return store
  }

  /**
   * Admits wait for the end of the event-loop turn and go to Redis together in one script call (one
   * command, one write, one read, however many queries arrived in that turn). Each query waits for
   * exactly that one round trip, and the script decides them in order on the state it reads then, so
   * nothing is decided on older state: only the round trip is shared.
   */
  admit(ori: string, userKey: string, limits: RateLimits, now: number): Promise<Admission> {
    return new Promise<Admission>((resolve, reject) => {
      this.pending.push({ ori, userKey, limits, now, resolve, reject })
      if (this.pending.length === 1) setImmediate(this.sendAdmits)
    })
  }

  private pending: PendingAdmit[] = []

  private readonly sendAdmits = (): void => {
    const pending = this.pending
    this.pending = []
    // One call per run of admits under the same limits (one policy set; a reload may split a turn).
    let from = 0
    for (let index = 1; index <= pending.length; index++) {
      if (index === pending.length || index - from === maxAdmitsPerCall || pending[index]!.limits !== pending[from]!.limits) {
        this.sendBatch(pending.slice(from, index))
        from = index
      }
    }
  }

  private sendBatch(batch: PendingAdmit[]): void {
    const keys: string[] = [markerKey, officersKey]
    const { perUser, perAgency } = batch[0]!.limits
    const args: string[] = [String(perUser.limit), String(perUser.windowSeconds * 1000), String(perAgency.limit), String(perAgency.windowSeconds * 1000)]
    const testClock = this.options.clock !== undefined
    for (const admit of batch) {
      const { ori, userKey, now } = admit
      const copy = this.copies.get(ori)
      admit.copy = copy
      keys.push(agencyKey(ori), `${prefix}rate:${ori}`)
      args.push(copy === undefined ? '-1' : String(copy.version), userKey, testClock ? String(now) : '')
    }
    const started = performance.now()
    this.redis.clets_admit(keys.length, ...keys, ...args).then(
      (reply) => {
        const now = performance.now()
        this.options.observer?.roundTrip((now - started) / 1000)
        this.lastFresh = now
        batch.forEach((admit, index) => {
          try {
            admit.resolve(this.admission(admit.ori, admit.copy, admit.userKey, reply, 1 + index * 9))
          } catch (failure) {
            admit.reject(failure)
          }
        })
      },
      (error: Error) => {
        this.options.observer?.failed()
        for (const admit of batch) admit.reject(new StateUnavailableError(`Redis: ${error.message}`, { cause: error }))
      },
    )
  }

  /** One query's admission from the script's reply, whose nine values for it start at `at`. */
  private admission(ori: string, copy: AgencyState | undefined, userKey: string, reply: AdmitReply, at: number): Admission {
    if (reply[0] === 0) throw new StateUnavailableError(noRegistryMessage)
    const now = reply[at] as number
    const version = reply[at + 1] as string | null
    const state = reply[at + 2] as string | null
    const limited = reply[at + 3] as number
    const retryMs = reply[at + 4] as number
    let agency: AgencyState | null
    if (version === null) {
      this.copies.delete(ori)
      agency = null
    } else if (state !== null) {
      agency = storedAgency(JSON.parse(state) as AgencyState)
      this.copies.set(ori, agency)
    } else {
      // Redis sends no state only when the version we sent is current: the copy we sent it from.
      agency = copy!
    }
    const officerText = reply[at + 8] as string | null
    let officer: OfficerSanction | null = null
    if (officerText !== null) {
      let known = this.officerCopies.get(userKey)
      if (known === undefined || known.text !== officerText) {
        known = { text: officerText, sanction: (JSON.parse(officerText) as OfficerState).sanction }
        this.officerCopies.set(userKey, known)
      }
      officer = known.sanction
    }
    return {
      agency,
      officer,
      rate: {
        limited: limited === 1 ? 'rate.user' : limited === 2 ? 'rate.agency' : null,
        retryAfterSeconds: Math.ceil(retryMs / 1000),
        userRemaining: reply[at + 5] as number,
        agencyRemaining: reply[at + 6] as number,
        userResetSeconds: Math.ceil((reply[at + 7] as number) / 1000),
      },
      now,
    }
  }

  async get(ori: string): Promise<AgencyState | null> {
    let state: string | null
    try {
      state = await this.redis.hget(agencyKey(ori), 'state')
    } catch (error) {
      throw new StateUnavailableError(`Redis: ${(error as Error).message}`, { cause: error })
    }
    return state === null ? null : storedAgency(JSON.parse(state) as AgencyState)
  }

  async list(): Promise<AgencyState[]> {
    try {
      const oris = await this.redis.smembers(agenciesKey)
      const states = oris.length === 0 ? [] : await Promise.all(oris.map((ori) => this.redis.hget(agencyKey(ori), 'state')))
      return states
        .filter((state): state is string => state !== null)
        .map((state) => storedAgency(JSON.parse(state) as AgencyState))
        .sort((left, right) => left.ori.localeCompare(right.ori))
    } catch (error) {
      throw new StateUnavailableError(`Redis: ${(error as Error).message}`, { cause: error })
    }
  }

  register(ori: string, registration: AgencyRegistration, _now: number, beforeCommit: BeforeCommit): Promise<AgencyChange> {
    return this.write(ori, beforeCommit, (before) => registerChange(ori, before, registration))
  }

  recordAgreement(ori: string, agreement: Agreement, _now: number, beforeCommit: BeforeCommit): Promise<AgencyChange> {
    return this.write(ori, beforeCommit, (before) => agreementChange(ori, before, agreement))
  }

  revokeAgreement(ori: string, _now: number, beforeCommit: BeforeCommit): Promise<AgencyChange> {
    return this.write(ori, beforeCommit, (before) => agreementChange(ori, before, null))
  }

  impose(ori: string, sanction: Sanction, _now: number, beforeCommit: BeforeCommit): Promise<AgencyChange> {
    return this.write(ori, beforeCommit, (before) => sanctionChange(ori, before, sanction))
  }

  reinstate(ori: string, _now: number, beforeCommit: BeforeCommit): Promise<AgencyChange> {
    return this.write(ori, beforeCommit, (before) => sanctionChange(ori, before, null))
  }

  /** Read, compute, audit, then compare-and-set on the version; a concurrent change is a conflict. */
  private async write(ori: string, beforeCommit: BeforeCommit, compute: (before: AgencyState | null) => AgencyChange): Promise<AgencyChange> {
    const before = await this.get(ori)
    const change = compute(before)
    await beforeCommit(change)
    const state = JSON.stringify(change.after)
    let applied: number
    try {
      applied = await this.redis.clets_apply(agencyKey(ori), agenciesKey, markerKey, String(before?.version ?? 0), String(change.after.version), state, ori, changedChannel)
    } catch (error) {
      // A timeout leaves it open whether Redis applied the write: look before saying it failed.
      const now = await this.redis.hget(agencyKey(ori), 'state').catch(() => null)
      if (now !== state) throw new StateUnavailableError(`Redis: ${(error as Error).message}`, { cause: error })
      applied = 1
    }
    if (applied !== 1) throw new AgencyConflictError(`agency ${ori} was changed by another operator meanwhile; read it again and retry`)
    this.copies.set(ori, change.after)
    return change
  }

  async saveRequest(request: WrittenRequest, expectedVersion: number, now: number): Promise<boolean> {
    const keepUntil = requestKeepUntil(request, now)
    // At least a millisecond: PEXPIRE with 0 would delete the request at once.
    const expiry = keepUntil === null ? '0' : String(Math.max(1, Math.ceil(keepUntil - now)))
    const state = JSON.stringify(request)
    const args = [String(expectedVersion), String(request.version), state, request.id, String(Date.parse(request.filedAt)), request.status === 'pending' ? '1' : '0', expiry]
    try {
      return (await this.redis.clets_save_request(requestKey(request.id), requestsKey, agencyRequestsKey(request.ori), pendingRequestsKey(request.ori), ...args)) === 1
    } catch (error) {
      // A timeout leaves it open whether Redis applied the write: look before saying it failed.
      const stored = await this.redis.hget(requestKey(request.id), 'state').catch(() => null)
      if (stored === state) return true
      throw new StateUnavailableError(`Redis: ${(error as Error).message}`, { cause: error })
    }
  }

  async getRequest(id: string): Promise<WrittenRequest | null> {
    try {
      const state = await this.redis.hget(requestKey(id), 'state')
      return state === null ? null : (JSON.parse(state) as WrittenRequest)
    } catch (error) {
      throw new StateUnavailableError(`Redis: ${(error as Error).message}`, { cause: error })
    }
  }

  listRequests(ori: string | null): Promise<WrittenRequest[]> {
    return this.listIndexed<WrittenRequest>(ori === null ? requestsKey : agencyRequestsKey(ori), requestKey, requestListLimit)
  }

  /** The newest `limit` entries of an index of hashes (version, state), newest first; ids whose key expired are dropped from it. */
  private async listIndexed<T>(index: string, keyOf: (id: string) => string, limit: number): Promise<T[]> {
    try {
      const ids = await this.redis.zrevrange(index, 0, limit - 1)
      if (ids.length === 0) return []
      const pipeline = this.redis.pipeline()
      for (const id of ids) pipeline.hget(keyOf(id), 'state')
      const states = (await pipeline.exec()) ?? []
      const found: T[] = []
      const gone: string[] = []
      states.forEach(([error, state], at) => {
        if (error !== null) throw error
        if (state === null) gone.push(ids[at]!)
        else found.push(JSON.parse(state as string) as T)
      })
      // Ids past their retention: dropped from the index this listing read.
      if (gone.length > 0) await this.redis.zrem(index, ...gone)
      return found
    } catch (error) {
      throw new StateUnavailableError(`Redis: ${(error as Error).message}`, { cause: error })
    }
  }

  async saveProposal(change: ProposedChange, expectedVersion: number, now: number): Promise<boolean> {
    // At least a millisecond: PEXPIRE with 0 would delete the proposal at once.
    const expiry = String(Math.max(1, Math.ceil(proposalKeepUntil(change) - now)))
    const state = JSON.stringify(change)
    try {
      return (await this.redis.clets_save_proposal(proposalKey(change.id), proposalsKey, String(expectedVersion), String(change.version), state, change.id, String(Date.parse(change.proposedAt)), expiry)) === 1
    } catch (error) {
      // A timeout leaves it open whether Redis applied the write: look before saying it failed.
      const stored = await this.redis.hget(proposalKey(change.id), 'state').catch(() => null)
      if (stored === state) return true
      throw new StateUnavailableError(`Redis: ${(error as Error).message}`, { cause: error })
    }
  }

  async getProposal(id: string): Promise<ProposedChange | null> {
    try {
      const state = await this.redis.hget(proposalKey(id), 'state')
      return state === null ? null : (JSON.parse(state) as ProposedChange)
    } catch (error) {
      throw new StateUnavailableError(`Redis: ${(error as Error).message}`, { cause: error })
    }
  }

  listProposals(): Promise<ProposedChange[]> {
    return this.listIndexed<ProposedChange>(proposalsKey, proposalKey, proposalListLimit)
  }

  /** One review write (see saveReviewScript); `expectedOpen` '*' = whatever the bound key names. */
  private async writeReview(item: ReviewItem, expectedVersion: number, expectedOpen: string, alias: string): Promise<boolean> {
    const state = JSON.stringify(item)
    try {
      const written = await this.redis.clets_save_review(
        reviewKey(item.id), reviewsKey, reviewOpenKey(item), alias === '' ? reviewAliasKey(item.id) : reviewAliasKey(alias),
        String(expectedVersion), String(item.version), state, item.id, String(Date.parse(item.openedAt)), expectedOpen, item.status === 'open' ? '1' : '0', alias,
      )
      return written === 1
    } catch (error) {
      // A timeout leaves it open whether Redis applied the write: look before saying it failed.
      const stored = await this.redis.hget(reviewKey(item.id), 'state').catch(() => null)
      if (stored === state) return true
      throw new StateUnavailableError(`Redis: ${(error as Error).message}`, { cause: error })
    }
  }

  async openReview(item: ReviewItem, _now: number): Promise<ReviewOpened> {
    // Join the open item of the bound key, or open this one; a write that another instance beat is tried again.
    for (let attempt = 0; attempt < 8; attempt++) {
      let openId: string | null
      try {
        openId = await this.redis.get(reviewOpenKey(item))
      } catch (error) {
        throw new StateUnavailableError(`Redis: ${(error as Error).message}`, { cause: error })
      }
      const open = openId === null ? null : await this.getReview(openId)
      if (open === null || open.status !== 'open') {
        if (await this.writeReview(item, 0, openId ?? '', '')) return { item, joined: false }
        continue
      }
      const joined = joinReview(open, item)
      if (await this.writeReview(joined, open.version, open.id, item.id)) return { item: joined, joined: true }
    }
    throw new StateUnavailableError('Redis: the review queue changed under eight attempts to open a review')
  }

  async getReview(id: string): Promise<ReviewItem | null> {
    try {
      const [[, state], [, target]] = (await this.redis.pipeline().hget(reviewKey(id), 'state').get(reviewAliasKey(id)).exec()) as [[unknown, string | null], [unknown, string | null]]
      if (state !== null) return JSON.parse(state) as ReviewItem
      if (target === null) return null
      const joined = await this.redis.hget(reviewKey(target), 'state')
      return joined === null ? null : (JSON.parse(joined) as ReviewItem)
    } catch (error) {
      throw new StateUnavailableError(`Redis: ${(error as Error).message}`, { cause: error })
    }
  }

  listReviews(): Promise<ReviewItem[]> {
    return this.listIndexed<ReviewItem>(reviewsKey, reviewKey, reviewListLimit)
  }

  saveReview(item: ReviewItem, expectedVersion: number, _now: number): Promise<boolean> {
    return this.writeReview(item, expectedVersion, '*', '')
  }

  async pendingRequests(ori: string): Promise<number> {
    try {
      return await this.redis.scard(pendingRequestsKey(ori))
    } catch (error) {
      throw new StateUnavailableError(`Redis: ${(error as Error).message}`, { cause: error })
    }
  }

  async getOfficer(ori: string, sub: string): Promise<OfficerState | null> {
    let state: string | null
    try {
      state = await this.redis.hget(officersKey, officerKey(ori, sub))
    } catch (error) {
      throw new StateUnavailableError(`Redis: ${(error as Error).message}`, { cause: error })
    }
    return state === null ? null : (JSON.parse(state) as OfficerState)
  }

  async listOfficers(ori: string | undefined): Promise<OfficerState[]> {
    let fields: Record<string, string>
    try {
      fields = await this.redis.hgetall(officersKey)
    } catch (error) {
      throw new StateUnavailableError(`Redis: ${(error as Error).message}`, { cause: error })
    }
    const prefix = ori === undefined ? 'user:' : officerKey(ori, '')
    return Object.entries(fields)
      .filter(([field]) => field.startsWith(prefix))
      .map(([, state]) => JSON.parse(state) as OfficerState)
      .sort((left, right) => left.ori.localeCompare(right.ori) || left.sub.localeCompare(right.sub))
  }

  /**
   * Folds officers' fields written under a spelling other than the folded user id into the person's one
   * field, keeping the state that binds (bindingOfficerState: a sanction over none, the later of two).
   * Returns how many fields were folded away. Each person is one compare-and-set: a change meanwhile
   * leaves that person for the next call.
   */
  async foldOfficerSpellings(): Promise<number> {
    let fields: Record<string, string>
    try {
      fields = await this.redis.hgetall(officersKey)
    } catch (error) {
      throw new StateUnavailableError(`Redis: ${(error as Error).message}`, { cause: error })
    }
    const people = new Map<string, { readonly folded: string; readonly others: [string, string, OfficerState][] }>()
    for (const [field, text] of Object.entries(fields)) {
      const state = JSON.parse(text) as OfficerState
      const folded = foldUserId(state.sub)
      if (folded === null) continue
      const target = officerKey(state.ori, folded)
      if (field === target && state.sub === folded) continue
      let person = people.get(target)
      if (person === undefined) people.set(target, (person = { folded, others: [] }))
      person.others.push([field, text, state])
    }
    let count = 0
    for (const [target, { folded, others }] of people) {
      const current = fields[target]
      let binding: OfficerState | null = current === undefined ? null : (JSON.parse(current) as OfficerState)
      for (const [, , state] of others) binding = binding === null ? { ...state, sub: folded } : bindingOfficerState(binding, state, folded)
      const args = [target, current ?? '', JSON.stringify(binding), ...others.filter(([field]) => field !== target).flatMap(([field, text]) => [field, text])]
      if ((await this.redis.clets_fold_officers(officersKey, ...args)) === 1) {
        count += others.length
        this.officerCopies.delete(target)
      }
    }
    return count
  }

  sanctionOfficer(ori: string, sub: string, sanction: OfficerSanction, _now: number, beforeCommit: BeforeCommit<OfficerChange>): Promise<OfficerChange> {
    return this.writeOfficer(ori, sub, sanction, beforeCommit)
  }

  reinstateOfficer(ori: string, sub: string, _now: number, beforeCommit: BeforeCommit<OfficerChange>): Promise<OfficerChange> {
    return this.writeOfficer(ori, sub, null, beforeCommit)
  }

  /** Read, compute, audit, then compare-and-set on the officer's state as read; a concurrent change is a conflict. */
  private writeOfficer(ori: string, sub: string, sanction: OfficerSanction | null, beforeCommit: BeforeCommit<OfficerChange>): Promise<OfficerChange> {
    return this.writeField(officersKey, officerKey(ori, sub), ori, (agency, before) => officerSanctionChange(ori, sub, agency, before as OfficerState | null, sanction), beforeCommit, `the sanction of officer ${sub} of ${ori}`, OfficerConflictError)
  }

  /**
   * A change to one field of a hash that belongs to a registered agency (an officer's sanction, a
   * filing): read the agency and the field, compute, audit, then compare-and-set on the field as read.
   * A concurrent change, or the agency gone meanwhile, is a `Conflict` (409).
   */
  private async writeField<C extends { readonly after: unknown }>(hash: string, field: string, ori: string, compute: (agency: AgencyState | null, before: unknown) => C, beforeCommit: BeforeCommit<C>, what: string, Conflict: new (message: string) => Error): Promise<C> {
    let read: [string | null, string | null]
    try {
      read = await Promise.all([this.redis.hget(agencyKey(ori), 'state'), this.redis.hget(hash, field)])
    } catch (error) {
      throw new StateUnavailableError(`Redis: ${(error as Error).message}`, { cause: error })
    }
    const [agency, before] = read
    const change = compute(agency === null ? null : storedAgency(JSON.parse(agency) as AgencyState), before === null ? null : JSON.parse(before))
    await beforeCommit(change)
    const state = JSON.stringify(change.after)
    let applied: number
    try {
      applied = await this.redis.clets_apply_officer(hash, agencyKey(ori), field, before ?? '', state)
    } catch (error) {
      // A timeout leaves it open whether Redis applied the write: look before saying it failed.
      const now = await this.redis.hget(hash, field).catch(() => null)
      if (now !== state) throw new StateUnavailableError(`Redis: ${(error as Error).message}`, { cause: error })
      applied = 1
    }
    if (applied === -1) throw new Conflict(`agency ${ori} left the registry meanwhile (an import?); read it again`)
    if (applied !== 1) throw new Conflict(`${what} was changed by another operator meanwhile; read it again and retry`)
    return change
  }

  // Issue 13, point 5: misuse filings, one hash per year (clets:filings:<year>), a field per ORI.
  recordFiling(ori: string, year: number, figures: FilingFigures, now: number, beforeCommit: BeforeCommit<FilingChange>): Promise<FilingChange> {
    return this.writeField(filingsKey(year), ori, ori, (agency, before) => filingChange(ori, year, agency, before as MisuseFiling | null, figures, now), beforeCommit, `the ${year} filing of ${ori}`, FilingConflictError)
  }

  async getFiling(ori: string, year: number): Promise<MisuseFiling | null> {
    let state: string | null
    try {
      state = await this.redis.hget(filingsKey(year), ori)
    } catch (error) {
      throw new StateUnavailableError(`Redis: ${(error as Error).message}`, { cause: error })
    }
    return state === null ? null : (JSON.parse(state) as MisuseFiling)
  }

  async listFilings(year: number): Promise<MisuseFiling[]> {
    let fields: Record<string, string>
    try {
      fields = await this.redis.hgetall(filingsKey(year))
    } catch (error) {
      throw new StateUnavailableError(`Redis: ${(error as Error).message}`, { cause: error })
    }
    return Object.values(fields).map((state) => JSON.parse(state) as MisuseFiling).sort((left, right) => left.ori.localeCompare(right.ori))
  }

  async holdsRegistry(): Promise<boolean> {
    try {
      const [marker, agencies] = await Promise.all([this.redis.exists(markerKey), this.redis.scard(agenciesKey)])
      return marker === 1 || agencies > 0
    } catch (error) {
      throw new StateUnavailableError(`Redis: ${(error as Error).message}`, { cause: error })
    }
  }

  async initialize(): Promise<boolean> {
    try {
      return (await this.redis.clets_initialize(markerKey, agenciesKey)) === 1
    } catch (error) {
      throw new StateUnavailableError(`Redis: ${(error as Error).message}`, { cause: error })
    }
  }

  async ready(): Promise<StateReadiness> {
    try {
      return (await this.redis.exists(markerKey)) === 1 ? 'ok' : 'no_registry'
    } catch {
      return 'unavailable'
    }
  }

  stateAgeSeconds(): number {
    return Math.round((performance.now() - this.lastFresh) / 100) / 10
  }

  /** Every agency as stored (for gatewayctl state export). */
  async exportRegistry(): Promise<AgencyState[]> {
    return this.list()
  }

  /**
   * Replaces the registry with `agencies` and the officers' sanctions with `officers` (gatewayctl state
   * import), in one transaction: a restored Redis holds the officers' sanctions of the backup too.
   */
  async importRegistry(agencies: readonly AgencyState[], imported: readonly OfficerState[]): Promise<void> {
    // A backup's officers under the person's folded id; two spellings of one person bind together.
    const officers = foldOfficerStates(imported)
    const current = await this.redis.smembers(agenciesKey)
    const transaction = this.redis.multi()
    for (const ori of current) transaction.del(agencyKey(ori))
    transaction.del(agenciesKey)
    transaction.del(officersKey)
    for (const agency of agencies) {
      transaction.hset(agencyKey(agency.ori), 'version', String(agency.version), 'state', JSON.stringify(agency))
      transaction.sadd(agenciesKey, agency.ori)
      transaction.publish(changedChannel, agency.ori)
    }
    for (const officer of officers) transaction.hset(officersKey, officerKey(officer.ori, officer.sub), JSON.stringify(officer))
    transaction.set(markerKey, '1')
    const results = await transaction.exec()
    const failed = results?.find(([error]) => error !== null)
    if (results === null || failed !== undefined) throw new StateUnavailableError(`Redis: the import did not apply: ${failed?.[0]?.message ?? 'aborted'}`)
    this.copies.clear()
    this.officerCopies.clear()
  }

  async close(): Promise<void> {
    this.subscriber.disconnect()
    await this.redis.quit().catch(() => this.redis.disconnect())
  }
}

