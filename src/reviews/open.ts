// Opening a review (docs/reviews.md). The query path calls it for a decision the immigration evidence
// sends to review, and the signal detector for a signal whose kind the policy marks for review. The
// ledger record comes first and is durable before the store holds the item, as for every operator step:
// a review the store holds is always one the ledger explains.
import type { AppDependencies } from '../http/context.js'
import { toGatewayError } from '../http/errors.js'
import type { ReviewItem, ReviewOpened } from '../state/types.js'

/** One piece of evidence that a query may be immigration enforcement, and what produced it. */
export interface EvidenceItem {
  readonly kind: 'declared' | 'authority' | 'statute_subject' | 'statute_mentioned' | 'terms' | 'unknown_requester'
  /** The request field that produced it: purpose, onBehalfOf, recipient, caseNumber, justification, token ori. */
  readonly field: string
  /** The text (or ORI, or purpose id) that produced it, at most 200 characters. */
  readonly text: string
}

export interface ReviewOpening {
  /** What opened it: an immigration-evidence decision, or a misuse signal (its kind, e.g. repeat_subject). */
  readonly source: 'immigration_evidence' | 'signal'
  readonly signal?: string
  readonly ori: string // the agency concerned
  readonly officer: string // the folded user id (Identity.officer)
  readonly sub: string // the token's spelling
  readonly decisions: readonly string[] // the decision ids behind it
  readonly evidence: readonly EvidenceItem[] // empty for a signal
  readonly summary: string // one line a reviewer reads first
}

/** The dependencies openReview uses (a subset of AppDependencies, so the signal detector can call it too). */
export type ReviewDependencies = Pick<AppDependencies, 'ledger' | 'store'>

const clip = (text: string, length: number) => (text.length <= length ? text : text.slice(0, length))

/** The item an opening stores when no open review of its bound key exists. */
export function reviewItemOf(id: string, opening: ReviewOpening, now: number): ReviewItem {
  return {
    id,
    status: 'open',
    source: opening.source,
    ...(opening.signal === undefined ? {} : { signal: opening.signal }),
    ori: opening.ori,
    officer: opening.officer,
    sub: opening.sub,
    decisions: opening.decisions.slice(0, 100),
    evidence: opening.evidence.slice(0, 32).map((item) => ({ kind: item.kind, field: item.field, text: clip(item.text, 200) })),
    summary: clip(opening.summary, 500),
    openedAt: new Date(now).toISOString(),
    occurrences: 1,
    joined: [],
    finding: null,
    version: 1,
  }
}

/**
 * Opens a review item with the given id: writes `review.opened` to the ledger (durable first), then
 * stores the item (shared across instances through the StateStore). Rejects (GatewayError
 * audit_unavailable / state_unavailable) when either fails.
 */
export async function openReview(deps: ReviewDependencies, id: string, opening: ReviewOpening, now: number): Promise<void> {
  await openReviewItem(deps, id, opening, now)
}

/** openReview, returning where the opening went (a new item, or the open one it joined). */
export async function openReviewItem(deps: ReviewDependencies, id: string, opening: ReviewOpening, now: number): Promise<ReviewOpened> {
  const item = reviewItemOf(id, opening, now)
  try {
    await deps.ledger.append(
    {
        type: 'review.opened',
        id,
        source: item.source,
        ...(item.signal === undefined ? {} : { signal: item.signal }),
        ori: item.ori,
        officer: item.officer,
        sub: item.sub,
        decisions: [...item.decisions],
        evidence: item.evidence.map((evidence) => ({ ...evidence })),
        summary: item.summary,
      },
    now,
    )
    return await deps.store.openReview(item, now)
  } catch (error) {
    // audit_unavailable or state_unavailable: the caller answers 503 (or, for a signal, logs it).
    throw toGatewayError(error)
  }
}
