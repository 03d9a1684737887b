import NIOCore

/// Runs the jobs of a connection's tasks on the connection's own event loop.
///
/// Hummingbird handles each connection in a task on Swift's global pool, so by default a request
/// crosses threads twice: the event loop hands the parsed request to a pool thread, and the answer
/// goes back to the loop to be encrypted and written; a webhook's command hands its result to the
/// pool a third time. Each crossing wakes a sleeping thread. With the loop as the tasks' executor
/// the request is handled where it was read, the answer is written without a hop, and a command's
/// end wakes only the loop (docs/decisions.md, "Requests handled on their event loop").
///
/// So nothing that can block for long may run on it: the routes that verify and render pushed
/// patterns, save state or fork shells move to the global pool (``offTheEventLoop(_:)``), and
/// commands spawn and wait on threads of their own (``ChildProcess``).
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// Runs `body` on Swift's global pool instead of the connection's event loop: for work that takes
/// milliseconds (rendering a pattern, an fsync, a fork), which would hold up every other connection
/// on that loop.
func offTheEventLoop<T, Failure: Error>(_ body: () async throws(Failure) -> T) async throws(Failure) -> T {
    try await withTaskExecutorPreference(globalConcurrentExecutor, operation: body)
}
