// The API's clock against this host's, from the `Date` headers of its answers (DESIGN.md rule 3:
// the orphans of lost answers are matched on the server's clock).

/** A `Date` header's resolution: whole seconds. */
const DATE_RESOLUTION_MS = 1000;
/** Bounds older than this are dropped at the next answer: the host's clock may be slewed meanwhile. */
const REFRESH_MS = 10 * 60_000;

/**
 * The offset (the API's clock minus this host's, ms) as an interval. An answer's `Date` is stamped
 * between the request leaving (`sentAt`) and the answer arriving (`answeredAt`), truncated to the
 * second, so it bounds the offset to [date - answeredAt, date + 1 s - sentAt]; the bounds of the
 * answers since the last refresh are intersected, which narrows the interval from about a second to
 * about a round trip once answers straddle a second boundary. One answer that contradicts them (the
 * host's clock stepped) starts them afresh.
 */
export class ServerClock {
  #low: number | undefined;
  #high: number | undefined;
  #since = 0;
  /** The last header parsed and its time: answers of the same second share it (one parse a second, not one an answer). */
  #lastHeader: string | undefined;
  #lastDate = NaN;

  /** Takes one answer's `Date` header (ignored when absent or not a date). */
  observe(dateHeader: string | undefined, sentAt: number, answeredAt: number): void {
    if (dateHeader !== this.#lastHeader) {
      this.#lastHeader = dateHeader;
      this.#lastDate = Date.parse(dateHeader ?? '');
    }
    const date = this.#lastDate;
    if (!Number.isFinite(date)) return;
    const low = date - answeredAt;
    const high = date + DATE_RESOLUTION_MS - sentAt;
    const fresh = this.#low === undefined || this.#high === undefined || answeredAt - this.#since > REFRESH_MS;
    if (fresh || low > this.#high! || high < this.#low!) {
      this.#low = low;
      this.#high = high;
      this.#since = answeredAt;
      return;
    }
    this.#low = Math.max(this.#low!, low);
    this.#high = Math.min(this.#high!, high);
  }

  /** The least the offset can be: a server time computed with it is never later than the true one. */
  get low(): number | undefined {
    return this.#low;
  }

  /** The most the offset can be: a server time computed with it is never earlier than the true one. */
  get high(): number | undefined {
    return this.#high;
  }
}
