import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// The client side of push (`etcha push`): POSTs a token to `PATH/SOURCE` on each host,
/// `build.pushMaxWorkers` at a time, over TLS verified against `httpClient.tlsCAPath` (the system
/// trust store when unset) unless `httpClient.tlsSkipVerify` or `build.pushTLSSkipVerify`; over
/// plain HTTP to an `insecure` target.
public struct PushClient: Sendable {
    /// One host to push to.
    public struct Destination: Sendable {
        /// `host` or `host:port` (port 4000 when absent).
        public var host: String
        /// The token for this host.
        public var token: String
        /// Plain HTTP (a target's `insecure`).
        public var insecure: Bool
        /// The push endpoint's path, without the source.
        public var path: String

        /// Makes a destination.
        public init(host: String, token: String, insecure: Bool = false, path: String = "/etcha/v1/push") {
            self.host = host
            self.token = token
            self.insecure = insecure
            self.path = path
        }

        /// The URL a push of `source` posts to.
        func url(source: String, check: Bool, filter: String) -> String {
            var query: [String] = []
            if check { query.append("check") }
            if !filter.isEmpty { query.append("filter=" + GoURLEncoding.queryComponent(filter)) }
            return PushClient.endpoint(host: host, insecure: insecure, path: path, source: source)
                + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        }
    }

    let config: Config

    /// Makes a client for `config`'s `httpClient` and `build.pushMaxWorkers`.
    public init(config: Config) {
        self.config = config
    }

    /// Pushes to every destination; the results are in the destinations' order. `check` asks for
    /// check mode and `filter` limits the commands run (``ParentFilter``).
    public func push(source: String, to destinations: [Destination], check: Bool, filter: String = "") async
        -> [Result<PushAnswer, any Error>]
    {
        let workers =
            config.build.pushMaxWorkers > 0 ? config.build.pushMaxWorkers : ProcessInfo.processInfo.activeProcessorCount
        let client: HTTPClient
        do {
            client = try HTTPClient.agentClient(
                config: config, skipVerify: config.httpClient.tlsSkipVerify || config.build.pushTLSSkipVerify)
        } catch {
            return destinations.map { _ in .failure(error) }
        }
        var results = [Result<PushAnswer, any Error>?](repeating: nil, count: destinations.count)
        await withTaskGroup(of: (Int, Result<PushAnswer, any Error>).self) { group in
            var next = 0
            func start() {
                guard next < destinations.count else { return }
                let index = next
                let destination = destinations[index]
                next += 1
                group.addTask {
                    (
                        index,
                        await self.send(
                            destination.url(source: source, check: check, filter: filter), destination.token,
                            client: client)
                    )
                }
            }
            for _ in 0..<workers { start() }
            while let (index, result) = await group.next() {
                results[index] = result
                start()
            }
        }
        try? await client.shutdown()
        return results.map { $0 ?? .failure(PushFailure("not attempted")) }
    }

    private func send(_ url: String, _ token: String, client: HTTPClient) async -> Result<PushAnswer, any Error> {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/jwt")
        request.body = .bytes(ByteBuffer(string: token))
        do {
            let response = try await client.execute(
                request, timeout: .seconds(Int64(config.run.timeoutPush.duration.components.seconds) + 30))
            let body = try await response.body.collect(upTo: 64 << 20)
            // A run that failed answers 500 with its result, whose err says why.
            if response.status == .internalServerError,
                let answer = try? JSONDecoder().decode(PushAnswer.self, from: Data(buffer: body))
            {
                return .success(answer)
            }
            guard response.status == .ok else {
                let detail = String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
                return .failure(
                    PushFailure(
                        "\(response.status.code) \(response.status.reasonPhrase)\(detail.isEmpty ? "" : ": \(detail)")")
                )
            }
            return .success(try JSONDecoder().decode(PushAnswer.self, from: Data(buffer: body)))
        } catch {
            return .failure(error)
        }
    }

    /// `host:port` for a `-h` value: `port` unless the value has one (`host:4001`, `[::1]:4001`); a
    /// bare IPv6 address gets brackets.
    public static func address(_ host: String, port: String = "4000") -> String {
        let hasPort = host.hasPrefix("[") ? host.contains("]:") : host.filter({ $0 == ":" }).count == 1
        if hasPort { return host }
        return host.contains(":") && !host.hasPrefix("[") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The URL of an agent endpoint for `source` (push or shell): HTTPS, or plain HTTP to an
    /// `insecure` target, at `host` (``address(_:port:)``) and `path`.
    static func endpoint(host: String, insecure: Bool, path: String, source: String) -> String {
        let base = path.hasSuffix("/") ? String(path.dropLast()) : path
        return "\(insecure ? "http" : "https")://\(address(host))\(base)/\(source)"
    }

}

/// A push that a host refused or that did not reach it.
public struct PushFailure: Error, CustomStringConvertible {
    /// One line.
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}

extension HTTPClient {
    /// The agent's outgoing client (push and pull): TLS 1.2+, verified against
    /// `httpClient.tlsCAPath` (the system store when unset) unless `skipVerify`, no redirects,
    /// 10 s to connect and 30 s to read.
    static func agentClient(config: Config, skipVerify: Bool) throws -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if skipVerify {
            tls.certificateVerification = .none
        } else if !config.httpClient.tlsCAPath.isEmpty {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(config.httpClient.tlsCAPath))
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(30))
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }
}
