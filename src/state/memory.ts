// The embedded store: agency state in memory, every operator change journaled (fsync) to STATE_DIR
// before it takes effect, and replayed at start, so a restart never forgets a sanction (an agency's or,
// since issue 12, an officer's: both go to the one journal, in the order they were made).
// Rate limits are per process here; several instances need the Redis store to share them.
import { mkdir, open, readFile, rename, truncate, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { bindingOfficerState, foldUserId } from '../policy/identity.js'
import type { Agreement, AgencyState, OfficerSanction, OfficerState, Sanction } from '../policy/types.js'
import { agreementChange, filingChange, officerSanctionChange, registerChange, sanctionChange, storedAgency } from './changes.js'
import { gcra } from './gcra.js'
import {
  officerKey,
  StateUnavailableError,
  type Admission,
  type AgencyChange,
  type AgencyRegistration,
  type BeforeCommit,
  type FilingChange,
  type FilingFigures,
  type MisuseFiling,
  type OfficerChange,
  type RateLimits,
  type StateReadiness,
  type StateStore,
} from './types.js'
import { proposalKeepUntil, proposalListLimit, requestKeepUntil, requestListLimit, type ProposedChange, type WrittenRequest } from './types.js'
import { joinReview, reviewBoundKey, reviewListLimit, type ReviewItem, type ReviewOpened } from './types.js'

/**
 * A journal line: an agency's state after a change, an officer's, a misuse filing, or a proposed change
 * as a step left it (two-person control): a restart keeps what awaits a second operator.
 */
type JournalEntry = { readonly at: string; readonly action: string } & (
  | { readonly state: AgencyState }
  | OfficerEntry
  | { readonly filing: MisuseFiling }
  | { readonly proposal: ProposedChange }
  | { readonly review: ReviewItem }
)

/**
 * An officer's line. `folded` marks a line written since user ids are folded (its sub is the folded id,
 * and it replaces whatever the officer had); a line without it was written under the spelling an
 * operator typed then, and is folded as it is read (see replayOfficer).
 */
interface OfficerEntry {
  readonly officer: OfficerState
  readonly folded?: true
}

/** A filing's key in the embedded store. */
const filingKey = (ori: string, year: number) => `${year}:${ori}`

const journalName = 'agencies.jsonl'
const sweepEvery = 4096

/** Reads the journal: the last state of each agency; a torn final line (never acknowledged) is cut off. */
async function replay(path: string): Promise<{ agencies: Map<string, AgencyState>; officers: Map<string, OfficerState>; filings: Map<string, MisuseFiling>; proposals: Map<string, ProposedChange>; reviews: Map<string, ReviewItem>; existed: boolean }> {
  const agencies = new Map<string, AgencyState>()
  const officers = new Map<string, OfficerState>()
  /** Per officer, the last state of each spelling of the older, unfolded lines since the last folded one. */
  const spellings = new Map<string, Map<string, OfficerState>>()
  const filings = new Map<string, MisuseFiling>()
  const proposals = new Map<string, ProposedChange>()
  const reviews = new Map<string, ReviewItem>()
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { agencies, officers, filings, proposals, reviews, existed: false }
    throw error
  }
  let offset = 0
  let lineNumber = 0
  while (offset < text.length) {
    const end = text.indexOf('\n', offset)
    lineNumber++
    if (end === -1) {
      // A write that was cut by a crash before its newline was never acknowledged to the operator.
      await truncate(path, Buffer.byteLength(text.slice(0, offset)))
      break
    }
    const line = text.slice(offset, end)
    offset = end + 1
    let entry: JournalEntry
    try {
      entry = JSON.parse(line) as JournalEntry
    } catch {
      throw new Error(`${path}: line ${lineNumber}: not valid JSON; the journal is damaged (restore it from a backup)`)
    }
    if ('officer' in entry) replayOfficer(entry, officers, spellings)
    else if ('filing' in entry) filings.set(filingKey(entry.filing.ori, entry.filing.year), entry.filing)
    else if ('proposal' in entry) proposals.set(entry.proposal.id, entry.proposal)
    else if ('review' in entry) reviews.set(entry.review.id, entry.review)
    else agencies.set(entry.state.ori, storedAgency(entry.state))
  }
  return { agencies, officers, filings, proposals, reviews, existed: true }
}

/**
 * One officer line, folded: a folded line replaces the officer's state; an older line is the last state
 * of its spelling, and the spellings of one person bind together as bindingOfficerState says (a
 * sanction under any spelling holds until a change made under the folded id lifts it).
 */
function replayOfficer(entry: OfficerEntry, officers: Map<string, OfficerState>, spellings: Map<string, Map<string, OfficerState>>): void {
  const { ori, sub } = entry.officer
  const folded = foldUserId(sub) ?? sub
  const key = officerKey(ori, folded)
  if (entry.folded === true) {
    spellings.delete(key)
    officers.set(key, entry.officer)
    return
  }
  let seen = spellings.get(key)
  if (seen === undefined) spellings.set(key, (seen = new Map()))
  seen.set(sub, entry.officer)
  let binding: OfficerState | null = null
  for (const state of seen.values()) binding = binding === null ? (state.sub === folded ? state : { ...state, sub: folded }) : bindingOfficerState(binding, state, folded)
  officers.set(key, binding!)
}

// Issue 12, point 5: written requests, journaled in requests.jsonl (one line per transition: the
// request as it is after it, and until when it is kept), replayed at start. Requests past their
// retention are dropped at start, and the journal is then rewritten without them and without the
// lines later ones replaced, so it does not grow without end across restarts.
const requestJournalName = 'requests.jsonl'

interface RequestEntry {
  readonly request: WrittenRequest
  /** Epoch ms, or null while pending. */
  readonly keepUntil: number | null
}

/** Reads the requests journal (a torn final line cut off, as for agencies) and rewrites it compacted if it holds stale lines. */
async function replayRequests(stateDir: string, now: number): Promise<Map<string, RequestEntry>> {
  const path = join(stateDir, requestJournalName)
  const requests = new Map<string, RequestEntry>()
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return requests
    throw error
  }
  const lines = text.split('\n')
  // The last piece is '' after a whole line, or a torn line that was never acknowledged.
  lines.pop()
  lines.forEach((line, index) => {
    let entry: RequestEntry
    try {
      entry = JSON.parse(line) as RequestEntry
    } catch {
      throw new Error(`${path}: line ${index + 1}: not valid JSON; the journal is damaged (restore it from a backup)`)
    }
    requests.set(entry.request.id, entry)
  })
  for (const [id, entry] of requests) if (entry.keepUntil !== null && entry.keepUntil <= now) requests.delete(id)
  if (lines.length !== requests.size || (text.length > 0 && !text.endsWith('\n'))) {
    const compacted = [...requests.values()].map((entry) => `${JSON.stringify(entry)}\n`).join('')
    const temporary = `${path}.tmp`
    const file = await open(temporary, 'w', 0o600)
    try {
      await file.writeFile(compacted)
      await file.datasync()
    } finally {
      await file.close()
    }
    await rename(temporary, path)
    const dir = await open(stateDir, 'r')
    try {
      await dir.sync()
    } finally {
      await dir.close()
    }
  }
  return requests
}

export class MemoryStateStore implements StateStore {
  private readonly agencies: Map<string, AgencyState>
  /** Sanctioned (and reinstated) officers by officerKey, the key admit is given: no string built per query. */
  private readonly officers: Map<string, OfficerState>
  private readonly arrivals = new Map<string, number>()
  private admissions = 0
  /** Operator changes run one at a time, so each is computed from the state the previous one left. */
  private writes: Promise<unknown> = Promise.resolve()
  private pristine: boolean
  /** Bytes of whole lines in the journal: a failed append is cut back to here. */
  private size: number

  private constructor(
    private readonly journal: FileHandle,
    agencies: Map<string, AgencyState>,
    officers: Map<string, OfficerState>,
    existed: boolean,
    size: number,
    private readonly requests: Map<string, RequestEntry>,
    private readonly requestJournal: FileHandle,
    private requestJournalSize: number,
    private readonly clock: () => number,
    private readonly filings: Map<string, MisuseFiling>,
    private readonly proposals: Map<string, ProposedChange>,
    private readonly reviews: Map<string, ReviewItem> = new Map(),
  ) {
    for (const item of reviews.values()) this.indexReview(item)
    this.agencies = agencies
    this.officers = officers
    this.pristine = !existed && agencies.size === 0
    this.size = size
  }

  /** Opens (or creates) the journals under `stateDir` and replays them; `clock` judges the requests' retention. */
  static async open(stateDir: string, clock: () => number = Date.now): Promise<MemoryStateStore> {
    await mkdir(stateDir, { recursive: true, mode: 0o700 })
    const path = join(stateDir, journalName)
    const { agencies, officers, filings, proposals, reviews, existed } = await replay(path)
    const journal = await open(path, 'a', 0o600)
    const { size } = await journal.stat()
    const requests = await replayRequests(stateDir, clock())
    const requestJournal = await open(join(stateDir, requestJournalName), 'a', 0o600)
    const { size: requestJournalSize } = await requestJournal.stat()
    return new MemoryStateStore(journal, agencies, officers, existed, size, requests, requestJournal, requestJournalSize, clock, filings, proposals, reviews)
  }

  admit(ori: string, userKey: string, limits: RateLimits, now: number): Promise<Admission> {
    const userTat = this.arrivals.get(userKey)
    const agencyKey = `agency:${ori}`
    const agencyTat = this.arrivals.get(agencyKey)
    const user = gcra(userTat, now, limits.perUser)
    const agency = gcra(agencyTat, now, limits.perAgency)
    const state = this.agencies.get(ori) ?? null
    // An unregistered ORI's query is refused (agency.unknown) whatever its rate: nothing is kept for it.
    if (user.allowed && agency.allowed && state !== null) {
      this.arrivals.set(userKey, user.tat)
      this.arrivals.set(agencyKey, agency.tat)
    }
    if (++this.admissions % sweepEvery === 0) this.sweep(now)
    return Promise.resolve({
      agency: state,
      officer: this.officers.get(userKey)?.sanction ?? null,
      rate: {
        limited: !user.allowed ? 'rate.user' : !agency.allowed ? 'rate.agency' : null,
        retryAfterSeconds: Math.ceil(Math.max(user.retryAfterMs, agency.retryAfterMs) / 1000),
        userRemaining: user.remaining,
        agencyRemaining: agency.remaining,
        userResetSeconds: Math.ceil(user.resetMs / 1000),
      },
      now,
    })
  }

  /** Drops arrival times already in the past: they no longer limit anything. */
  private sweep(now: number): void {
    for (const [key, tat] of this.arrivals) if (tat <= now) this.arrivals.delete(key)
  }

  get(ori: string): Promise<AgencyState | null> {
    return Promise.resolve(this.agencies.get(ori) ?? null)
  }

  list(): Promise<AgencyState[]> {
    return Promise.resolve([...this.agencies.values()].sort((left, right) => left.ori.localeCompare(right.ori)))
  }

  register(ori: string, registration: AgencyRegistration, now: number, beforeCommit: BeforeCommit): Promise<AgencyChange> {
    return this.write(now, beforeCommit, () => registerChange(ori, this.agencies.get(ori) ?? null, registration))
  }

  recordAgreement(ori: string, agreement: Agreement, now: number, beforeCommit: BeforeCommit): Promise<AgencyChange> {
    return this.write(now, beforeCommit, () => agreementChange(ori, this.agencies.get(ori) ?? null, agreement))
  }

  revokeAgreement(ori: string, now: number, beforeCommit: BeforeCommit): Promise<AgencyChange> {
    return this.write(now, beforeCommit, () => agreementChange(ori, this.agencies.get(ori) ?? null, null))
  }

  impose(ori: string, sanction: Sanction, now: number, beforeCommit: BeforeCommit): Promise<AgencyChange> {
    return this.write(now, beforeCommit, () => sanctionChange(ori, this.agencies.get(ori) ?? null, sanction))
  }

  reinstate(ori: string, now: number, beforeCommit: BeforeCommit): Promise<AgencyChange> {
    return this.write(now, beforeCommit, () => sanctionChange(ori, this.agencies.get(ori) ?? null, null))
  }

  getOfficer(ori: string, sub: string): Promise<OfficerState | null> {
    return Promise.resolve(this.officers.get(officerKey(ori, sub)) ?? null)
  }

  listOfficers(ori: string | undefined): Promise<OfficerState[]> {
    const officers = [...this.officers.values()].filter((officer) => ori === undefined || officer.ori === ori)
    return Promise.resolve(officers.sort((left, right) => left.ori.localeCompare(right.ori) || left.sub.localeCompare(right.sub)))
  }

  sanctionOfficer(ori: string, sub: string, sanction: OfficerSanction, now: number, beforeCommit: BeforeCommit<OfficerChange>): Promise<OfficerChange> {
    return this.writeOfficer(ori, sub, sanction, now, beforeCommit)
  }

  reinstateOfficer(ori: string, sub: string, now: number, beforeCommit: BeforeCommit<OfficerChange>): Promise<OfficerChange> {
    return this.writeOfficer(ori, sub, null, now, beforeCommit)
  }

  private writeOfficer(ori: string, sub: string, sanction: OfficerSanction | null, now: number, beforeCommit: BeforeCommit<OfficerChange>): Promise<OfficerChange> {
    const key = officerKey(ori, sub)
    return this.journaled(
      beforeCommit,
      () => officerSanctionChange(ori, sub, this.agencies.get(ori) ?? null, this.officers.get(key) ?? null, sanction),
      (change) => ({ at: new Date(now).toISOString(), action: change.action, officer: change.after, folded: true }),
      (change) => this.officers.set(key, change.after),
    )
  }

  recordFiling(ori: string, year: number, figures: FilingFigures, now: number, beforeCommit: BeforeCommit<FilingChange>): Promise<FilingChange> {
    const key = filingKey(ori, year)
    return this.journaled(
      beforeCommit,
      () => filingChange(ori, year, this.agencies.get(ori) ?? null, this.filings.get(key) ?? null, figures, now),
      (change) => ({ at: new Date(now).toISOString(), action: change.action, filing: change.after }),
      (change) => this.filings.set(key, change.after),
    )
  }

  getFiling(ori: string, year: number): Promise<MisuseFiling | null> {
    return Promise.resolve(this.filings.get(filingKey(ori, year)) ?? null)
  }

  listFilings(year: number): Promise<MisuseFiling[]> {
    return Promise.resolve([...this.filings.values()].filter((filing) => filing.year === year).sort((left, right) => left.ori.localeCompare(right.ori)))
  }

  /** Computes the change, lets the caller audit it, journals it durably, then applies it; a failure changes nothing. */
  private write(now: number, beforeCommit: BeforeCommit, compute: () => AgencyChange): Promise<AgencyChange> {
    return this.journaled(
      beforeCommit,
      compute,
      (change) => ({ at: new Date(now).toISOString(), action: change.action, state: change.after }),
      (change) => this.agencies.set(change.ori, change.after),
    )
  }

  /** One journaled change, agency's or officer's: compute, audit, append and fsync, then apply; in order. */
  private journaled<Change>(beforeCommit: BeforeCommit<Change>, compute: () => Change, entry: (change: Change) => JournalEntry, apply: (change: Change) => void): Promise<Change> {
    const run = this.writes.then(async () => {
      const change = compute()
      await beforeCommit(change)
      await this.append(entry(change))
      apply(change)
      this.pristine = false
      return change
    })
    this.writes = run.catch(() => undefined)
    return run
  }

  /** Appends one line to the journal and makes it durable; a failed write is cut back off. Inside `writes` only. */
  private async append(entry: JournalEntry): Promise<void> {
    const bytes = Buffer.from(`${JSON.stringify(entry)}\n`)
    try {
      await this.journal.appendFile(bytes)
      await this.journal.datasync()
      this.size += bytes.length
    } catch (error) {
      // Cut off a partly written line so the next change starts on a line of its own.
      await this.journal.truncate(this.size).catch(() => undefined)
      throw new StateUnavailableError(`cannot journal the change: ${(error as Error).message}`, { cause: error })
    }
  }

  /** A proposal still kept at `now` (decided or lapsed ones go after their retention). */
  private liveProposal(id: string, now: number): ProposedChange | undefined {
    const proposal = this.proposals.get(id)
    return proposal === undefined || proposalKeepUntil(proposal) <= now ? undefined : proposal
  }

  saveProposal(change: ProposedChange, expectedVersion: number, now: number): Promise<boolean> {
    // In the journal's queue, behind the operator changes: the version compared is the one the last write left.
    const run = this.writes.then(async () => {
      if ((this.liveProposal(change.id, now)?.version ?? 0) !== expectedVersion) return false
      await this.append({ at: new Date(now).toISOString(), action: `proposal.${change.status}`, proposal: change })
      this.proposals.set(change.id, change)
      return true
    })
    this.writes = run.catch(() => undefined)
    return run
  }

  getProposal(id: string): Promise<ProposedChange | null> {
    return Promise.resolve(this.liveProposal(id, this.clock()) ?? null)
  }

  listProposals(): Promise<ProposedChange[]> {
    const now = this.clock()
    const kept = [...this.proposals.values()].filter((proposal) => proposalKeepUntil(proposal) > now)
    // Newest first, as the Redis store's index gives them; ids break ties.
    kept.sort((left, right) => right.proposedAt.localeCompare(left.proposedAt) || right.id.localeCompare(left.id))
    return Promise.resolve(kept.slice(0, proposalListLimit))
  }

  /** Each opening that joined an item, to the item's id. */
  private readonly reviewAliases = new Map<string, string>()
  /** Each open item's bound key, to its id. */
  private readonly openReviews = new Map<string, string>()

  private indexReview(item: ReviewItem): void {
    for (const alias of item.joined) this.reviewAliases.set(alias, item.id)
    const key = reviewBoundKey(item)
    if (item.status === 'open') this.openReviews.set(key, item.id)
    else if (this.openReviews.get(key) === item.id) this.openReviews.delete(key)
  }

  openReview(item: ReviewItem, now: number): Promise<ReviewOpened> {
    // In the journal's queue: the open item looked up is the one the last write left.
    const run = this.writes.then(async () => {
      const openId = this.openReviews.get(reviewBoundKey(item))
      const open = openId === undefined ? undefined : this.reviews.get(openId)
      const stored = open === undefined ? item : joinReview(open, item)
      await this.append({ at: new Date(now).toISOString(), action: open === undefined ? 'review.opened' : 'review.joined', review: stored })
      this.reviews.set(stored.id, stored)
      this.indexReview(stored)
      return { item: stored, joined: open !== undefined }
    })
    this.writes = run.catch(() => undefined)
    return run
  }

  getReview(id: string): Promise<ReviewItem | null> {
    return Promise.resolve(this.reviews.get(this.reviewAliases.get(id) ?? id) ?? null)
  }

  listReviews(): Promise<ReviewItem[]> {
    const all = [...this.reviews.values()]
    all.sort((left, right) => right.openedAt.localeCompare(left.openedAt) || right.id.localeCompare(left.id))
    return Promise.resolve(all.slice(0, reviewListLimit))
  }

  saveReview(item: ReviewItem, expectedVersion: number, now: number): Promise<boolean> {
    const run = this.writes.then(async () => {
      if ((this.reviews.get(item.id)?.version ?? 0) !== expectedVersion) return false
      await this.append({ at: new Date(now).toISOString(), action: `review.${item.status}`, review: item })
      this.reviews.set(item.id, item)
      this.indexReview(item)
      return true
    })
    this.writes = run.catch(() => undefined)
    return run
  }

  /** Request writes run one at a time, so the version each compares is the one the last one left. */
  private requestWrites: Promise<unknown> = Promise.resolve()

  /** The entry of a request still kept at `now`. */
  private liveRequest(id: string, now: number): RequestEntry | undefined {
    const entry = this.requests.get(id)
    if (entry === undefined || (entry.keepUntil !== null && entry.keepUntil <= now)) return undefined
    return entry
  }

  saveRequest(request: WrittenRequest, expectedVersion: number, now: number): Promise<boolean> {
    const run = this.requestWrites.then(async () => {
      if ((this.liveRequest(request.id, now)?.request.version ?? 0) !== expectedVersion) return false
      const entry: RequestEntry = { request, keepUntil: requestKeepUntil(request, now) }
      const bytes = Buffer.from(`${JSON.stringify(entry)}\n`)
      try {
        await this.requestJournal.appendFile(bytes)
        await this.requestJournal.datasync()
        this.requestJournalSize += bytes.length
      } catch (error) {
        await this.requestJournal.truncate(this.requestJournalSize).catch(() => undefined)
        throw new StateUnavailableError(`cannot journal the request: ${(error as Error).message}`, { cause: error })
      }
      this.requests.set(request.id, entry)
      return true
    })
    this.requestWrites = run.catch(() => undefined)
    return run
  }

  getRequest(id: string): Promise<WrittenRequest | null> {
    return Promise.resolve(this.liveRequest(id, this.clock())?.request ?? null)
  }

  listRequests(ori: string | null): Promise<WrittenRequest[]> {
    const now = this.clock()
    const found: WrittenRequest[] = []
    for (const entry of this.requests.values()) {
      if (entry.keepUntil !== null && entry.keepUntil <= now) continue
      if (ori === null || entry.request.ori === ori) found.push(entry.request)
    }
    // Newest first, as the Redis store's index gives them; ids break ties.
    found.sort((left, right) => right.filedAt.localeCompare(left.filedAt) || right.id.localeCompare(left.id))
    return Promise.resolve(found.slice(0, requestListLimit))
  }

  pendingRequests(ori: string): Promise<number> {
    let pending = 0
    for (const entry of this.requests.values()) if (entry.request.ori === ori && entry.request.status === 'pending') pending++
    return Promise.resolve(pending)
  }

  holdsRegistry(): Promise<boolean> {
    return Promise.resolve(!this.pristine)
  }

  initialize(): Promise<boolean> {
    // The journal file, created at open, is this store's marker: the next start finds it.
    if (!this.pristine) return Promise.resolve(false)
    this.pristine = false
    return Promise.resolve(true)
  }

  ready(): Promise<StateReadiness> {
    return Promise.resolve('ok')
  }

  stateAgeSeconds(): number {
    return 0
  }

  async close(): Promise<void> {
    await this.writes
    await this.requestWrites
    await this.journal.close()
    await this.requestJournal.close()
  }
}
