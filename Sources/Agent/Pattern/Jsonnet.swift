import CJsonnet
import Foundation

/// Evaluates Jsonnet with libjsonnet (loaded on first use, see CJsonnet): one VM per evaluation,
/// imports served by an ``Importer`` (files on disk, or the in-memory files of a JWT), and Etcha's
/// native functions.
enum Jsonnet {
    /// Where imports come from, and a record of every file read (what `etcha build` puts in the JWT).
    final class Importer {
        /// Files by absolute path; nil reads the file system.
        let files: [String: String]?
        /// Every file served, by the absolute path it was found at.
        var served: [String: String] = [:]

        init(files: [String: String]?) {
            self.files = files
        }

        func read(_ path: String) -> String? {
            let content = files.map { $0[path] } ?? (try? String(contentsOfFile: path, encoding: .utf8))
            if let content { served[path] = content }
            return content
        }
    }

    /// Evaluates the file at `path` (imports relative to it).
    static func evaluate(file path: String, natives: NativeFunctions) throws(CommandError) -> String {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let importer = Importer(files: nil)
        guard let text = importer.read(absolute) else {
            throw CommandError(.render, "\(path): cannot read the file")
        }
        return try evaluate(snippet: text, filename: absolute, natives: natives, importer: importer).output
    }

    /// What an evaluation gave.
    struct Evaluation {
        /// The JSON text.
        var output: String
        /// Whether a native function read a file or ran a command: the same inputs may then give
        /// another output.
        var readOutside: Bool
        /// Whether it went through the shared standard library (CJsonnet's shared_stdlib.cpp).
        var sharedStdlib: Bool
    }

    /// Evaluates `snippet` as if it were the file `filename`; imports go through `importer`.
    /// `sharedStdlib` false evaluates the way libjsonnet does by itself, parsing its standard library
    /// for every file (see CJsonnet's shared_stdlib.cpp), for tests to compare the two.
    static func evaluate(
        snippet: String, filename: String, natives: NativeFunctions, importer: Importer, sharedStdlib: Bool = true
    ) throws(CommandError) -> Evaluation {
        guard let vm = jsonnet_make() else {
            let reason = etcha_jsonnet_load_failure().map { String(cString: $0) } ?? "out of memory"
            throw CommandError(.unavailable, "cannot start the Jsonnet VM: \(reason)")
        }
        if !sharedStdlib { etcha_jsonnet_own_stdlib(vm) }
        defer {
            jsonnet_destroy(vm)
            // A VM allocates megabytes in whichever malloc arena its thread uses; without this, each
            // arena keeps its high-water mark and the agent grows with every push
            // (docs/decisions.md, "malloc_trim after every Jsonnet evaluation").
            malloc_trim(0)
        }
        let context = NativeFunctions.Context(vm: vm, natives: natives)
        withExtendedLifetime((importer, context)) {
            jsonnet_import_callback(vm, importCallback, Unmanaged.passUnretained(importer).toOpaque())
            context.register()
        }
        var failed: Int32 = 0
        let output = withExtendedLifetime((importer, context)) {
            jsonnet_evaluate_snippet(vm, filename, snippet, &failed)
        }
        guard let output else {
            throw CommandError(.unavailable, "\(filename): Jsonnet returned nothing (out of memory?)")
        }
        let text = String(cString: output)
        _ = jsonnet_realloc(vm, output, 0)
        guard failed == 0 else { throw CommandError(.render, Jsonnet.describe(error: text)) }
        return Evaluation(
            output: text, readOutside: context.readOutside, sharedStdlib: etcha_jsonnet_evaluated_shared(vm) != 0)
    }

    /// libjsonnet's message is a first line and a stack of `file:line:column` frames; keep the line and
    /// the innermost frame, which names the file and line.
    static func describe(error: String) -> String {
        let lines = error.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard let first = lines.first else { return "Jsonnet error" }
        let message = first.replacingOccurrences(of: "RUNTIME ERROR: ", with: "")
            .replacingOccurrences(of: "STATIC ERROR: ", with: "")
        if let frame = lines.dropFirst().first {
            let location = frame.split(separator: "\t").first.map(String.init) ?? frame
            return "\(location): \(message)"
        }
        return message
    }

    /// Normalizes `relative` against the directory `base` (which ends in `/`).
    static func resolve(_ relative: String, from base: String) -> String {
        let joined = relative.hasPrefix("/") ? relative : base + relative
        var parts: [Substring] = []
        for part in joined.split(separator: "/") {
            if part == "." || part.isEmpty { continue }
            if part == ".." {
                _ = parts.popLast()
            } else {
                parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }
}

/// libjsonnet's import callback: `ctx` is the ``Jsonnet/Importer``.
private func importCallback(
    context: UnsafeMutableRawPointer?, base: UnsafePointer<CChar>?, relative: UnsafePointer<CChar>?,
    foundHere: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, success: UnsafeMutablePointer<Int32>?
) -> UnsafeMutablePointer<CChar>? {
    guard let context, let base, let relative else { return nil }
    let importer = Unmanaged<Jsonnet.Importer>.fromOpaque(context).takeUnretainedValue()
    let path = Jsonnet.resolve(String(cString: relative), from: String(cString: base))
    guard let content = importer.read(path) else {
        success?.pointee = 0
        return strdup("cannot import \(path): no such file")
    }
    success?.pointee = 1
    foundHere?.pointee = strdup(path)
    return strdup(content)
}
