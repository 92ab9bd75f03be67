// Load shedding: under overload, refuse fast (503 + Retry-After) rather than queue without bound.
// Every interval the shedder looks at the event loop's worst delay since its last look and at the heap;
// past either threshold, the gateway sheds until three intervals in a row come back under both (so it
// does not flap between serving and refusing while the overload lasts).
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import { getHeapStatistics } from 'node:v8'

export interface SheddingOptions {
  /** Worst event-loop delay tolerated in one interval (ms); 0 turns this check off. */
  readonly maxEventLoopDelayMs: number
  /** Heap used, as a share of V8's heap limit, tolerated; 0 turns this check off. */
  readonly maxHeapUsedRatio: number
  readonly intervalMs?: number
}

export class LoadShedder {
  private shedding = false
  private healthyIntervals = 0
  private readonly delay: IntervalHistogram
  private readonly timer: NodeJS.Timeout
  private readonly heapLimit = getHeapStatistics().heap_size_limit
  private readonly intervalMs: number
  /** performance.now() from which the shedder judges; until arm(), never. */
  private judgesFrom = Number.POSITIVE_INFINITY

  constructor(private readonly options: SheddingOptions) {
    this.delay = monitorEventLoopDelay({ resolution: 10 })
    this.delay.enable()
    this.intervalMs = options.intervalMs ?? 100
    this.timer = setInterval(() => this.check(), this.intervalMs)
    this.timer.unref()
  }

  /** True while the gateway is over a threshold and queries should be refused. */
  get overloaded(): boolean {
    return this.shedding
  }

  /**
   * Starts judging, two intervals from now: a stall before this call is recorded by the delay monitor
   * only when the loop next turns, and the looks until then forget it.
   */
  arm(): void {
    this.judgesFrom = performance.now() + 2 * this.intervalMs
  }

  private check(): void {
    const worstDelayMs = this.delay.max / 1e6
    this.delay.reset()
    if (performance.now() < this.judgesFrom) return
    const delayed = this.options.maxEventLoopDelayMs > 0 && worstDelayMs > this.options.maxEventLoopDelayMs
    const heavy = this.options.maxHeapUsedRatio > 0 && process.memoryUsage().heapUsed > this.options.maxHeapUsedRatio * this.heapLimit
    if (delayed || heavy) {
      this.shedding = true
      this.healthyIntervals = 0
    } else if (this.shedding && ++this.healthyIntervals >= 3) {
      this.shedding = false
    }
  }

  stop(): void {
    clearInterval(this.timer)
    this.delay.disable()
  }
}
