import EtchaJSON
import Foundation

/// Where a pattern's Jsonnet comes from.
public enum PatternSource: Sendable, Equatable {
    /// A `.jsonnet` or `.json` file; imports are relative to it.
    case file(String)
    /// In-memory files keyed by absolute path, as a JWT's `etchaPattern` carries them.
    case files(entrypoint: String, files: [String: String])
    /// A raw snippet run as `{run: [<snippet>]}` (`etcha local`).
    case snippet(String)
}

/// A pattern and the Jsonnet files it was rendered from (entrypoint and every import).
public struct RenderedPattern: Sendable {
    /// The pattern.
    public var pattern: Pattern
    /// The entrypoint's absolute path.
    public var entrypoint: String
    /// Every file read, by absolute path.
    public var files: [String: String]
    /// The rendered JSON as Jsonnet produced it.
    public var json: JSON
    /// Whether rendering read a file or ran a command (`getFile`, `getCmd`); if not, the same
    /// files and configuration render the same pattern again.
    public var readOutside: Bool
}

/// Renders patterns: Jsonnet with Etcha's native functions, `getConfig()` answering the merged
/// variables of docs/behaviour.md#4-patterns-and-commands.
///
///     let rendered = try PatternRenderer.render(.file("patterns/web.jsonnet"), variables: vars)
public enum PatternRenderer {
    /// What `getConfig()` returns for a source: its exec, the targets, and the variables merged in
    /// order (JWT `etchaRunVars`, top-level `vars`, the source's, the target's; later wins), then
    /// `added` (build's `srcDir`/`srcPath`, push's `target`), `source`, `test` (whether the
    /// source is `test`) and `sysinfo`.
    public static func configuration(
        config: Config, source: String, exec: ResolvedExec, runVars: [String: JSON] = [:], target: String? = nil,
        added: [String: JSON] = [:]
    ) -> JSON {
        var vars = JSON.object(runVars)
        vars = vars.merging(.object(config.vars))
        vars = vars.merging(.object(config.sources[source]?.vars ?? [:]))
        if let target, let targetVars = config.targets[target]?.vars { vars = vars.merging(.object(targetVars)) }
        var members = vars.object ?? [:]
        members.merge(added) { _, new in new }
        members["source"] = .string(source)
        members["test"] = .bool(source == "test")
        members["sysinfo"] = SystemInfo.current.json
        var targets: [String: JSON] = [:]
        for (name, target) in config.targets {
            targets[name] = .object([
                "hostname": .string(target.hostname), "insecure": .bool(target.insecure), "port": .string(target.port),
                "sourcePatterns": .object(target.sourcePatterns.mapValues(JSON.string)), "vars": .object(target.vars),
            ])
        }
        return .object(["exec": exec.json, "targets": .object(targets), "vars": .object(members)])
    }

    /// Renders `source` with `getConfig()` answering `configuration`.
    public static func render(_ source: PatternSource, configuration: JSON) throws(CommandError) -> RenderedPattern {
        let natives = NativeFunctions(config: configuration)
        let importer: Jsonnet.Importer
        let entrypoint: String
        let text: String
        switch source {
        case .file(let path):
            entrypoint = URL(fileURLWithPath: path).standardizedFileURL.path
            importer = Jsonnet.Importer(files: nil)
            guard let content = importer.read(entrypoint) else {
                throw CommandError(.render, "\(path): cannot read the pattern file")
            }
            text = content
        case .files(let main, let files):
            entrypoint = main
            importer = Jsonnet.Importer(files: files)
            guard let content = importer.read(main) else {
                throw CommandError(.render, "\(main): the pattern's entrypoint is not among its files")
            }
            text = content
        case .snippet(let snippet):
            entrypoint = FileManager.default.currentDirectoryPath + "/snippet.jsonnet"
            importer = Jsonnet.Importer(files: nil)
            text = "{run: [\(snippet)]}"
        }
        let evaluation = try Jsonnet.evaluate(
            snippet: text, filename: entrypoint, natives: natives, importer: importer)
        let json: JSON
        do {
            json = try JSON(parsing: evaluation.output)
        } catch {
            throw CommandError(.render, "\(entrypoint): rendered output is not JSON")
        }
        do {
            return RenderedPattern(
                pattern: try Pattern(json: json), entrypoint: entrypoint, files: importer.served, json: json,
                readOutside: evaluation.readOutside)
        } catch {
            throw CommandError(error.code, "\(entrypoint): \(error.description)")
        }
    }
}

extension ResolvedExec {
    /// The exec as Etcha's `exec` object.
    var json: JSON {
        .object([
            "allowOverride": .bool(allowOverride), "command": .string(command),
            "env": .object(env.mapValues(JSON.string)),
            "envInherit": .bool(envInherit), "group": .string(group), "sudo": .bool(sudo), "user": .string(user),
            "workDir": .string(workDir),
        ])
    }
}
