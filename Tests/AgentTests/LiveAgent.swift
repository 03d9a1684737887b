import AsyncHTTPClient
import EtchaInstrumentation
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import Prometheus

@testable import Agent

/// An agent with its HTTPS listener on 127.0.0.1 and a free port, in this process, stopped with
/// ``stop()``.
final class LiveAgent: @unchecked Sendable {
    let dir: TemporaryDirectory
    let services: AgentServices
    let port: Int
    private let task: Task<Void, any Error>

    var agent: Agent { services.agent }
    var listener: Listener { services.listener }
    var shells: ShellSessions { services.shells }
    var metrics: EtchaMetrics { services.metrics }

    /// Starts an agent on `json` (merged over a state dir, a loopback listener and `/bin/sh -c`).
    static func start(_ json: String = "{}", overrides: [String] = [], dir: TemporaryDirectory = TemporaryDirectory())
        async throws -> LiveAgent
    {
        let path = dir.write("etcha.json", json)
        let loaded = try ConfigLoader(
            path: path,
            overrides: [
                "run_stateDir=\(dir.path)", "httpServer_listenAddress=127.0.0.1:0", "exec_command=/bin/sh -c",
            ] + overrides, environment: [:]
        ).load()
        return try await LiveAgent(loaded: loaded, dir: dir)
    }

    private init(loaded: LoadedConfig, dir: TemporaryDirectory) async throws {
        self.dir = dir
        let services = try AgentServices(
            loaded: loaded, logger: quietLogger,
            metrics: EtchaMetrics(registry: PrometheusCollectorRegistry(), version: "test"), handlesSignals: false,
            shellStallLimit: .seconds(3))
        self.services = services
        task = Task { try await services.run() }
        guard let port = await services.listener.port() else { throw ListenerError("no port") }
        self.port = port
    }

    func stop() async {
        await services.shutdown()
        _ = try? await task.value
    }

    var base: String { "https://127.0.0.1:\(port)" }
}

/// Starts an agent and a client, runs `body`, and stops both whatever happens.
func withAgent(
    _ json: String = "{}", overrides: [String] = [], dir: TemporaryDirectory = TemporaryDirectory(),
    http2: Bool = true, body: (LiveAgent, HTTPClient) async throws -> Void
) async throws {
    let agent = try await LiveAgent.start(json, overrides: overrides, dir: dir)
    let client = try makeClient(http2: http2)
    do {
        try await body(agent, client)
    } catch {
        try? await client.shutdown()
        await agent.stop()
        throw error
    }
    try await client.shutdown()
    await agent.stop()
}

/// A TLS client that trusts anything (tests check the server, not the client's trust store).
func makeClient(
    http2: Bool = true, minimum: TLSVersion = .tlsv12, maximum: TLSVersion? = nil, certificate: (String, String)? = nil,
    trust: String? = nil
) throws -> HTTPClient {
    var tls = TLSConfiguration.makeClientConfiguration()
    tls.certificateVerification = trust == nil ? .none : .noHostnameVerification
    if let trust { tls.trustRoots = .file(trust) }
    tls.minimumTLSVersion = minimum
    tls.maximumTLSVersion = maximum
    if let (certificatePath, keyPath) = certificate {
        tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { .certificate($0) }
        tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem))
    }
    var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
    configuration.httpVersion = http2 ? .automatic : .http1Only
    // Connects get 5 s: under a sanitizer beside the other suites, a 2 s connect timeout was hit.
    configuration.timeout = .init(connect: .seconds(5), read: .seconds(30))
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
}

struct Reply {
    var status: Int
    var headers: HTTPHeaders
    var body: ByteBuffer
    var version: HTTPVersion
    var text: String { String(buffer: body) }
}

/// Sends one request and reads the whole answer.
func send(
    _ client: HTTPClient, _ url: String, method: HTTPMethod = .GET, headers: [(String, String)] = [],
    body: ByteBuffer? = nil
) async throws -> Reply {
    var request = HTTPClientRequest(url: url)
    request.method = method
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    if let body { request.body = .bytes(body) }
    let response = try await client.execute(request, timeout: .seconds(30))
    let collected = try await response.body.collect(upTo: 64 << 20)
    return Reply(
        status: Int(response.status.code), headers: response.headers, body: collected, version: response.version)
}

/// Runs a command line and returns its exit status and combined output. The wait happens on a
/// thread of its own: blocking a Swift concurrency thread could starve the in-process agent the
/// command talks to.
@discardableResult
func shell(_ command: String) async throws -> (status: Int32, output: String) {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue(label: "test.shell").async {
            continuation.resume(with: Result { try blockingShell(command) })
        }
    }
}

private func blockingShell(_ command: String) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, output)
}
