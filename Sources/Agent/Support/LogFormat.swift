import Foundation
import Logging

/// How log lines are written: logfmt (`level=info msg="…" source=web`, the default, as Etcha
/// writes them) or one JSON object per line.
public enum LogFormat: String, Sendable, CaseIterable {
    case logfmt
    case json
}

/// A `LogHandler` writing one line per entry to standard error, in a ``LogFormat``. Metadata keys
/// are written sorted, after `level` and `msg`. Secrets never reach it: callers log names, not values.
public struct LineLogHandler: LogHandler {
    /// The line format.
    public var format: LogFormat
    /// Entries below this level are dropped.
    public var logLevel: Logger.Level = .info
    /// Metadata on every entry.
    public var metadata: Logger.Metadata = [:]

    /// Makes a handler.
    public init(format: LogFormat, level: Logger.Level = .info) {
        self.format = format
        self.logLevel = level
    }

    /// Reads or sets one metadata key.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one entry.
    public func log(event: LogEvent) {
        let level = event.level
        let message = event.message
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }
        var line = ""
        switch format {
        case .logfmt:
            line = "level=\(level.rawValue) msg=\(Self.logfmtQuote(message.description))"
            for key in fields.keys.sorted() {
                line += " \(key)=\(Self.logfmtQuote(fields[key]!.description))"
            }
        case .json:
            var object: [String: JSON] = ["level": .string(level.rawValue), "msg": .string(message.description)]
            for (key, value) in fields { object[key] = .string(value.description) }
            line = JSON.object(object).text
        }
        line += "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    static func logfmtQuote(_ value: String) -> String {
        let plain =
            !value.isEmpty
            && value.unicodeScalars.allSatisfy {
                $0.value > 0x20 && $0 != "\"" && $0 != "=" && $0 != "\\" && $0.value < 0x7f
            }
        // A JSON string is a valid quoted logfmt value, and also escapes other control characters.
        return plain ? value : JSON.string(value).text
    }
}
