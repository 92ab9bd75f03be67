// Load shedding: under overload, refuse fast (503 + Retry-After) rather than queue without bound.
// Every interval the shedder looks at the event loop's worst delay since its last look and at the heap;
// past either threshold, the gateway sheds until three intervals in a row come back under both (so it
// does not flap between serving and refusing while the overload lasts). Start-up is not overload: the
// shedder judges nothing until `arm()` (called once the gateway listens) and two intervals after it,
// so a stall while the gateway loads (a busy machine, a ledger recovered after a crash) never refuses
// the first queries.
//
// The delay is measured by a 10 ms tick of our own (how late each tick runs), not by
// perf_hooks.monitorEventLoopDelay: resetting that histogram also forgets its last tick, so when a look
// ran before the monitor's own tick after a stall (about half the time), the stall was never counted.
import { getHeapStatistics } from 'node:v8'

export interface SheddingOptions {
  /** Worst event-loop delay tolerated in one interval (ms); 0 turns this check off. */
  readonly maxEventLoopDelayMs: number
  /** Heap used, as a share of V8's heap limit, tolerated; 0 turns this check off. */
  readonly maxHeapUsedRatio: number
  readonly intervalMs?: number
}

const tickMs = 10

export class LoadShedder {
  private shedding = false
  private healthyIntervals = 0
  private readonly timer: NodeJS.Timeout
  private readonly heapLimit = getHeapStatistics().heap_size_limit
  private readonly intervalMs: number
  private lastTick = performance.now()
  private lastLook = this.lastTick
  /** The worst delay of a tick since the last look (ms). */
  private worstDelayMs = 0
  /** performance.now() from which the shedder judges; until arm(), never. */
  private judgesFrom = Number.POSITIVE_INFINITY

  constructor(private readonly options: SheddingOptions) {
    this.intervalMs = options.intervalMs ?? 100
    this.timer = setInterval(() => this.tick(), tickMs)
    this.timer.unref()
  }

  /** True while the gateway is over a threshold and queries should be refused. */
  get overloaded(): boolean {
    return this.shedding
  }

  /** Starts judging, two intervals from now; a stall before this call is forgotten. */
  arm(): void {
    this.judgesFrom = performance.now() + 2 * this.intervalMs
  }

  private tick(): void {
    const now = performance.now()
    const delayMs = now - this.lastTick - tickMs
    this.lastTick = now
    if (delayMs > this.worstDelayMs) this.worstDelayMs = delayMs
    if (now - this.lastLook >= this.intervalMs) this.look(now)
  }

  private look(now: number): void {
    const worstDelayMs = this.worstDelayMs
    this.worstDelayMs = 0
    this.lastLook = now
    if (now < this.judgesFrom) return
    const delayed = this.options.maxEventLoopDelayMs > 0 && worstDelayMs > this.options.maxEventLoopDelayMs
    // getHeapStatistics, not process.memoryUsage(): the same heapUsed without reading /proc for the RSS.
    const heavy = this.options.maxHeapUsedRatio > 0 && getHeapStatistics().used_heap_size > this.options.maxHeapUsedRatio * this.heapLimit
    if (delayed || heavy) {
      this.shedding = true
      this.healthyIntervals = 0
    } else if (this.shedding && ++this.healthyIntervals >= 3) {
      this.shedding = false
    }
  }

  stop(): void {
    clearInterval(this.timer)
  }
}
