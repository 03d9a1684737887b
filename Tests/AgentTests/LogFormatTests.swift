import Foundation
import Logging
import Testing

@testable import Agent

/// Log lines: level and message first, then the handler's and the entry's metadata sorted by key
/// (the entry's winning), values bare or quoted as logfmt needs; or one JSON object.
@Suite struct LogFormatTests {
    private func event(_ message: Logger.Message, _ metadata: Logger.Metadata?, level: Logger.Level = .info)
        -> LogEvent
    {
        LogEvent(
            level: level, message: message, metadata: metadata, source: nil, file: #fileID, function: #function,
            line: #line)
    }

    private func text(_ handler: LineLogHandler, _ event: LogEvent) -> String {
        String(decoding: handler.line(for: event), as: UTF8.self)
    }

    @Test func logfmtSortsMergedMetadataAfterLevelAndMessage() {
        var handler = LineLogHandler(format: .logfmt)
        handler.metadata = ["trigger": "webhook", "source": "hook"]
        let line = text(handler, event("changed", ["commandMode": "change", "commandID": "ok", "source": "other"]))
        #expect(line == "level=info msg=changed commandID=ok commandMode=change source=other trigger=webhook\n")
    }

    @Test func logfmtQuotesWhatCannotStandBare() {
        let handler = LineLogHandler(format: .logfmt)
        let line = text(
            handler,
            event(
                "a message",
                [
                    "empty": "", "equals": "a=b", "quote": "say \"hi\"", "slash": "a\\b", "tab": "a\tb",
                    "accent": "café", "plain": "/etc/motd:1",
                ], level: .warning))
        #expect(
            line
                == #"level=warning msg="a message" accent="café" empty="" equals="a=b" plain=/etc/motd:1 quote="say \"hi\"" slash="a\\b" tab="a\tb""#
                + "\n")
    }

    @Test func jsonHoldsEveryField() throws {
        var handler = LineLogHandler(format: .json)
        handler.metadata = ["source": "hook"]
        let line = handler.line(for: event("changed", ["commandID": "write \"file\""]))
        #expect(line.last == UInt8(ascii: "\n"))
        let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: String]
        #expect(object == ["level": "info", "msg": "changed", "source": "hook", "commandID": "write \"file\""])
    }

    @Test func etchasHumanAndRawFormats() {
        var human = LineLogHandler(format: .human)
        human.metadata = ["source": "hook"]
        let line = text(human, event("changed", ["commandID": "a b"]))
        #expect(line == #"INFO  changed commandID="a b" source=hook"# + "\n")
        #expect(text(human, event("oops", nil, level: .warning)) == "WARNING oops source=hook\n")
        var raw = LineLogHandler(format: .raw)
        raw.metadata = ["source": "hook"]
        #expect(text(raw, event("just this", ["commandID": "a"])) == "just this\n")
    }

    @Test(arguments: [
        ("kv", LogFormat.logfmt), ("logfmt", .logfmt), ("json", .json), ("human", .human), ("raw", .raw),
    ])
    func formatNames(name: String, format: LogFormat) {
        #expect(LogFormat(named: name) == format)
    }

    @Test func thresholdNamesIncludeEtchasNone() {
        #expect(LogThreshold(named: "none") == LogThreshold.none)
        #expect(LogThreshold(named: "debug") == .level(.debug))
        #expect(LogThreshold(named: "error") == .level(.error))
        #expect(LogThreshold(named: "loud") == nil)
        #expect(LogFormat(named: "pretty") == nil)
        #expect(LineLogHandler(format: .logfmt, threshold: .none).silent)
        #expect(!LineLogHandler(format: .logfmt, threshold: .level(.error)).silent)
    }
}
