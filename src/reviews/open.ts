// Opening a review item: the query path calls it for an answer given under review (docs/evidence.md).
// This is the small version the query path needs: the `review.opened` record, durable before the answer
// goes. The review queue (store, routes, findings) builds on the same signature.
import type { AppDependencies } from '../http/context.js'
import type { EvidenceItem } from '../policy/types.js'

export type { EvidenceItem }

export interface ReviewOpening {
  /** What opened it: an immigration-evidence decision, or a misuse signal (its kind, e.g. repeat_subject). */
  readonly source: 'immigration_evidence' | 'signal'
  readonly signal?: string
  /** The agency concerned. */
  readonly ori: string
  /** The folded user id (Identity.officer). */
  readonly officer: string
  /** The token's spelling. */
  readonly sub: string
  /** The decision ids behind it. */
  readonly decisions: readonly string[]
  /** Empty for a signal. */
  readonly evidence: readonly EvidenceItem[]
  /** One line a reviewer reads first. */
  readonly summary: string
}

/**
 * Opens a review item with the given id: writes `review.opened` to the ledger (durable first). Rejects
 * (GatewayError audit_unavailable) when the ledger cannot take it.
 */
export async function openReview(deps: AppDependencies, id: string, opening: ReviewOpening, now: number): Promise<void> {
  await deps.ledger.append(
    {
      type: 'review.opened',
      id,
      source: opening.source,
      ...(opening.signal === undefined ? {} : { signal: opening.signal }),
      ori: opening.ori,
      officer: opening.officer,
      sub: opening.sub,
      decisions: [...opening.decisions],
      evidence: opening.evidence.map((item) => ({ kind: item.kind, field: item.field, text: item.text })),
      summary: opening.summary,
    },
    now,
  )
}
