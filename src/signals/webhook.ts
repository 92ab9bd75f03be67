// The optional signal webhook (SIGNAL_WEBHOOK_URL): each raised signal is POSTed as JSON — its id, kind,
// agency, officer and decision ids, never a subject (the ledger keeps those) — with a timeout per try and
// a few retries (100 ms, 200 ms, 400 ms… apart). A failure is counted, never felt by a query: deliveries
// run on their own, bounded to maxWaiting at a time.
import { request } from 'undici'
import type { SignalRaisedEvent } from '../audit/record.js'

export interface WebhookOptions {
  readonly url: string
  readonly timeoutMs: number
  readonly retries: number
  /** Called once per signal that was not delivered. */
  readonly failed: () => void
}

/** Signals being delivered at most at one time; past it a new one is dropped (and counted as failed). */
const maxWaiting = 1000

export class SignalWebhook {
  private readonly inFlight = new Set<Promise<void>>()
  private readonly stop = new AbortController()
  constructor(private readonly options: WebhookOptions) {}

  /** Starts delivering a signal; returns at once. */
  send(signal: SignalRaisedEvent, time: string): void {
    if (this.inFlight.size >= maxWaiting) return this.options.failed()
    const body = JSON.stringify({ signal: signal.id, kind: signal.kind, ori: signal.ori, sub: signal.sub, decisionIds: signal.decisionIds, blocked: signal.blocked, time })
    const delivery = this.deliver(body).finally(() => this.inFlight.delete(delivery))
    this.inFlight.add(delivery)
  }

  private async deliver(body: string): Promise<void> {
    for (let attempt = 0; attempt <= this.options.retries; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** (attempt - 1)).unref())
      if (this.stop.signal.aborted) break
      try {
        const response = await request(this.options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.any([this.stop.signal, AbortSignal.timeout(this.options.timeoutMs)]),
        })
        await response.body.dump()
        if (response.statusCode >= 200 && response.statusCode < 300) return
      } catch {
        // a timeout, a refused connection: tried again below
      }
    }
    this.options.failed()
  }

  /** Waits for deliveries under way (at most one timeout), then abandons what is left. */
  async close(): Promise<void> {
    const deadline = new Promise((resolve) => setTimeout(resolve, this.options.timeoutMs).unref())
    await Promise.race([Promise.allSettled([...this.inFlight]), deadline])
    this.stop.abort()
    await Promise.allSettled([...this.inFlight])
  }
}
