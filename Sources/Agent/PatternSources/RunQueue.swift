import DequeModule

/// Keeps one source's runs from overlapping: runs take turns in arrival order, and at most
/// `capacity` may wait behind the running one; a run that would wait beyond that is refused at
/// once instead of piling up.
actor RunQueue {
    private let capacity: Int
    private var busy = false
    private var waitingRuns: Deque<CheckedContinuation<Void, Never>> = []

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Waits for this run's turn; throws ``SourceError`` when the queue is full.
    func acquire(source: String) async throws(SourceError) {
        guard busy else {
            busy = true
            return
        }
        guard waitingRuns.count < capacity else { throw SourceError(.queueFull, source: source) }
        await withCheckedContinuation { waitingRuns.append($0) }
    }

    /// How many runs wait behind the running one.
    var waiting: Int { waitingRuns.count }

    /// Ends the current run's turn and starts the next waiting run, if any.
    func release() {
        if let next = waitingRuns.popFirst() {
            next.resume()
        } else {
            busy = false
        }
    }
}
