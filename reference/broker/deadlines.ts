/**
 * Request deadlines without a timer per request. Requests with the same timeout expire in the order they
 * were added, so each timeout value keeps a FIFO list linked through the entries themselves and one Node
 * timer armed for its oldest entry: adding or removing an entry allocates nothing and touches no timer
 * (a setTimeout/clearTimeout pair per request was a measured cost of the broker's hot path, issue 15).
 * An entry never expires before its deadline: a timer that fires early is re-armed for the rest.
 */

/** What a list needs of an entry: its deadline and its links, kept on the entry itself. */
export interface DeadlineEntry {
  /** performance.now() at which the entry expires. */
  deadline: number;
  /** The list holding the entry, undefined once it expired or was removed. */
  deadlineList: DeadlineList<DeadlineEntry> | undefined;
  deadlinePrev: DeadlineEntry | undefined;
  deadlineNext: DeadlineEntry | undefined;
}

/** The entries of one timeout value, oldest first, and the timer that expires them. */
export class DeadlineList<T extends DeadlineEntry> {
  head: T | undefined;
  tail: T | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly expire: (entry: T) => void) {}

  add(entry: T): void {
    entry.deadlineList = this as unknown as DeadlineList<DeadlineEntry>;
    entry.deadlinePrev = this.tail;
    entry.deadlineNext = undefined;
    if (this.tail === undefined) this.head = entry;
    else this.tail.deadlineNext = entry;
    this.tail = entry;
    if (this.timer === undefined) this.arm(entry.deadline - performance.now());
    // An idle list's timer is unref'd (below): it holds the process again once an entry waits.
    else if (this.head === entry) this.timer.ref();
  }

  remove(entry: T): void {
    if (entry.deadlineList !== (this as unknown as DeadlineList<DeadlineEntry>)) return;
    const prev = entry.deadlinePrev as T | undefined;
    const next = entry.deadlineNext as T | undefined;
    if (prev === undefined) this.head = next;
    else prev.deadlineNext = next;
    if (next === undefined) this.tail = prev;
    else next.deadlinePrev = prev;
    entry.deadlineList = undefined;
    entry.deadlinePrev = undefined;
    entry.deadlineNext = undefined;
    // The timer stays armed (re-arming per request is the cost this module avoids) but no longer
    // keeps the process alive for an empty list.
    if (this.head === undefined) this.timer?.unref();
  }

  /** Stops the timer (broker close); entries stay linked until removed. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.fire(), Math.max(1, Math.ceil(ms)));
  }

  private fire(): void {
    this.timer = undefined;
    const now = performance.now();
    let entry = this.head;
    while (entry !== undefined && entry.deadline <= now) {
      this.remove(entry);
      this.expire(entry);
      entry = this.head;
    }
    if (entry !== undefined && this.timer === undefined) this.arm(entry.deadline - now);
  }
}

/** One {@link DeadlineList} per timeout value. */
export class Deadlines<T extends DeadlineEntry> {
  private readonly lists = new Map<number, DeadlineList<T>>();

  constructor(private readonly expire: (entry: T) => void) {}

  /** Adds `entry`, due `timeoutMs` after `startedAt` (both performance.now() milliseconds). */
  add(entry: T, startedAt: number, timeoutMs: number): void {
    let list = this.lists.get(timeoutMs);
    if (list === undefined) {
      list = new DeadlineList(this.expire);
      this.lists.set(timeoutMs, list);
    }
    entry.deadline = startedAt + timeoutMs;
    list.add(entry);
  }

  /** Takes `entry` out of its list (answered, or its connection went away); a no-op when it is in none. */
  remove(entry: T): void {
    (entry.deadlineList as DeadlineList<T> | undefined)?.remove(entry);
  }

  /** Stops every timer (broker close). */
  stop(): void {
    for (const list of this.lists.values()) list.stop();
  }
}
