import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL

/// `getFile` and `getPath` of an `http(s)://` URL: a GET with the `#Header:value` suffixes pull
/// paths take (`#skipVerify` included), answered 200 within ``timeout``, with a body of at most
/// ``bodyLimit`` bytes; anything else is the fallback.
///
/// Natives are called synchronously from inside libjsonnet, on a thread that is not an event
/// loop's, so the request runs on NIO's threads and this thread waits for its future.
enum NativeFetch {
    /// How long a fetch may take, connecting and reading included.
    static let timeout: TimeAmount = .seconds(10)
    /// The largest body accepted, as for a command's output.
    static let bodyLimit = StepRunner.outputLimit

    static func text(of path: String) -> String? {
        let (url, headers, skipVerify) = PullFetcher.split(path)
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if skipVerify { tls.certificateVerification = .none }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: timeout, read: timeout)
        configuration.redirectConfiguration = .disallow
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        defer { try? client.syncShutdown() }
        do {
            var request = try HTTPClient.Request(url: url, method: .GET)
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            let response = try client.execute(
                request: request, delegate: ResponseAccumulator(request: request, maxBodySize: bodyLimit),
                deadline: .now() + timeout
            ).futureResult.wait()
            guard response.status == .ok else { return nil }
            return response.body.map { String(buffer: $0) } ?? ""
        } catch {
            return nil
        }
    }
}
