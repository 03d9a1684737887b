import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// The client side of push (`etcha push`): POSTs a token to `/etcha/v1/push/SOURCE` on each host,
/// `build.pushMaxWorkers` at a time, over TLS verified against `httpClient.tlsCAPath` (the system
/// trust store when unset) unless `httpClient.tlsSkipVerify` or the target is `insecure`.
public struct PushClient: Sendable {
    /// One host to push to.
    public struct Destination: Sendable {
        /// `host` or `host:port` (port 4000 when absent).
        public var host: String
        /// The token for this host.
        public var token: String
        /// Skip certificate verification for this host (a target's `insecure`).
        public var insecure: Bool

        /// Makes a destination.
        public init(host: String, token: String, insecure: Bool) {
            self.host = host
            self.token = token
            self.insecure = insecure
        }
    }

    let config: Config

    /// Makes a client for `config`'s `httpClient` and `build.pushMaxWorkers`.
    public init(config: Config) {
        self.config = config
    }

    /// Pushes to every destination; the results are in the destinations' order.
    public func push(source: String, to destinations: [Destination], check: Bool) async -> [Result<
        PushAnswer, any Error
    >] {
        let workers =
            config.build.pushMaxWorkers > 0 ? config.build.pushMaxWorkers : ProcessInfo.processInfo.activeProcessorCount
        let verifying: HTTPClient
        let skipping: HTTPClient
        do {
            verifying = try HTTPClient.agentClient(
                config: config, skipVerify: config.httpClient.tlsSkipVerify || config.build.pushTLSSkipVerify)
            skipping = try HTTPClient.agentClient(config: config, skipVerify: true)
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
                    let client = destination.insecure ? skipping : verifying
                    return (index, await self.send(destination, source: source, check: check, client: client))
                }
            }
            for _ in 0..<workers { start() }
            while let (index, result) = await group.next() {
                results[index] = result
                start()
            }
        }
        try? await verifying.shutdown()
        try? await skipping.shutdown()
        return results.map { $0 ?? .failure(PushFailure("not attempted")) }
    }

    private func send(_ destination: Destination, source: String, check: Bool, client: HTTPClient) async -> Result<
        PushAnswer, any Error
    > {
        var request = HTTPClientRequest(
            url: "https://\(Self.address(destination.host))/etcha/v1/push/\(source)\(check ? "?check" : "")")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/jwt")
        request.body = .bytes(ByteBuffer(string: destination.token))
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

    /// `host:port` for a `-h` value: port 4000 unless given; a bare IPv6 address gets brackets.
    static func address(_ host: String) -> String {
        if host.hasPrefix("[") { return host.contains("]:") ? host : host + ":4000" }
        switch host.filter({ $0 == ":" }).count {
        case 0: return host + ":4000"
        case 1: return host
        default: return "[\(host)]:4000"
        }
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
