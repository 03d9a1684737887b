import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// Fetches a source's JWT from its `pullPaths` (docs/behaviour.md#5-listen-mode-etcha-run): local
/// files, or `http(s)://` URLs with `#Header:value` suffixes separated by `\r\n` (the special
/// header `skipVerify` turns off certificate checks for that URL). Bodies are limited to
/// `httpServer.maxBodyBytes`; a fetch, body included, to ``deadline``.
public struct PullFetcher: Sendable {
    let config: Config
    /// How long one fetch may take, from connecting to the last byte of the body.
    let deadline: Duration

    /// A fetcher for `source`: 30 s, or the source's `runFrequency` when that is shorter (at least
    /// 1 s), so a server that hangs cannot hold a pull past the next one.
    init(config: Config, source: SourceConfig) {
        self.config = config
        let frequency = source.runFrequency.duration
        deadline = frequency > .zero ? min(.seconds(30), max(.seconds(1), frequency)) : .seconds(30)
    }

    /// A fetcher with `deadline` (`etcha compare` of URLs).
    public init(config: Config, deadline: Duration) {
        self.config = config
        self.deadline = deadline
    }

    /// The token at `path`, or an error when it cannot be had within the deadline.
    public func fetch(_ path: String) async throws -> String {
        try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask { try await self.fetchWithoutDeadline(path) }
            group.addTask {
                try await Task.sleep(for: self.deadline)
                return nil
            }
            defer { group.cancelAll() }
            guard let token = try await group.next() ?? nil else {
                throw PushFailure("\(Self.split(path).0): no answer within \(deadline)")
            }
            return token
        }
    }

    private func fetchWithoutDeadline(_ path: String) async throws -> String {
        guard path.hasPrefix("http://") || path.hasPrefix("https://") else {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            guard let size = attributes[.size] as? Int, size <= config.httpServer.maxBodyBytes else {
                throw PushFailure("\(path): larger than httpServer.maxBodyBytes")
            }
            return try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let (url, headers, skipVerify) = Self.split(path)
        let client = try HTTPClient.agentClient(
            config: config, skipVerify: skipVerify || config.httpClient.tlsSkipVerify)
        do {
            var request = HTTPClientRequest(url: url)
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            let response = try await client.execute(request, timeout: TimeAmount(deadline))
            guard response.status == .ok else {
                try? await client.shutdown()
                throw PushFailure("\(url): \(response.status.code) \(response.status.reasonPhrase)")
            }
            let body = try await response.body.collect(upTo: config.httpServer.maxBodyBytes)
            try await client.shutdown()
            return String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// `URL#h1:v1\r\nh2:v2` into the URL, the headers, and whether `skipVerify` was among them.
    public static func split(_ path: String) -> (String, [(String, String)], Bool) {
        guard let hash = path.firstIndex(of: "#") else { return (path, [], false) }
        var headers: [(String, String)] = []
        var skipVerify = false
        for line in path[path.index(after: hash)...].components(separatedBy: "\r\n") where !line.isEmpty {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts[0].lowercased() == "skipverify" {
                skipVerify = parts.count < 2 || parts[1].isEmpty || parts[1].lowercased() == "true"
            } else if parts.count == 2 {
                headers.append((parts[0], parts[1]))
            }
        }
        return (String(path[..<hash]), headers, skipVerify)
    }

}

extension SourceSet {
    /// Pulls `source`: the first of its `pullPaths` that can be fetched and verifies is applied,
    /// unless it carries the same pattern, manifest and version (unless `pullIgnoreVersion`) as the
    /// held token, in which case the held pattern just runs when `runHeld` asks for it. A path that
    /// fails is logged and the held pattern kept. The `pull` event fires after every pull.
    @discardableResult
    public func pull(_ name: String, runHeld: Bool) async -> RunResult? {
        guard let source = self[name], !source.settings.pullPaths.isEmpty else { return nil }
        var logger = self.logger
        logger[metadataKey: "source"] = "\(name)"
        logger[metadataKey: "trigger"] = "pull"
        let fetcher = PullFetcher(config: config, source: source.settings)
        var result: RunResult?
        for path in source.settings.pullPaths {
            let token: String
            do {
                token = try await fetcher.fetch(path)
            } catch {
                logger.error("pull failed", metadata: ["path": "\(PullFetcher.split(path).0)", "error": "\(error)"])
                continue
            }
            do {
                // Verified but not rendered yet: an unchanged token needs no rendering at all.
                let signed = try await verify(token, for: source, logger: logger)
                if let held = source.signed,
                    held.sameContent(as: signed, ignoringVersion: source.settings.pullIgnoreVersion)
                {
                    logger.debug("pulled token unchanged")
                    if runHeld, !source.settings.triggerOnly {
                        result = try? await trigger(name, RunRequest(trigger: .pull, publicKey: held.token.keyID))
                    }
                } else {
                    result = try await accept(signed, for: source, request: RunRequest(trigger: .pull))
                }
                break
            } catch  where error.code != .unverified && error.code != .invalidPattern {
                // Refused tokens and unrenderable patterns were logged with their reason already.
                logger.error(
                    "pulled token refused", metadata: ["path": "\(PullFetcher.split(path).0)", "error": "\(error)"])
            } catch {}
        }
        await dispatch(FiredEvent(name: "pull", commandID: "", output: ""), from: name)
        return result
    }
}
