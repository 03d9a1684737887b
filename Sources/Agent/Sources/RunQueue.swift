import DequeModule

/// Keeps one source's runs from overlapping: runs take turns in arrival order, and at most
/// `capacity` may wait behind the running one; a run that would wait beyond that is refused at
/// once instead of piling up.
actor RunQueue {
    private let capacity: Int
    private var busy = false
    private var waiting: Deque<CheckedContinuation<Void, Never>> = []

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Waits for this run's turn; throws ``SourceError`` when the queue is full.
    func acquire(source: String) async throws(SourceError) {
        guard busy else {
            busy = true
            return
        }
        guard waiting.count < capacity else { throw SourceError(.queueFull, source: source) }
        await withCheckedContinuation { waiting.append($0) }
    }

    /// Ends the current run's turn and starts the next waiting run, if any.
    func release() {
        if let next = waiting.popFirst() {
            next.resume()
        } else {
            busy = false
        }
    }
}
