/// The suggestion for a misspelt key: the known key nearest to it, when it is near enough to be a
/// typo (at most a third of its letters differ, case aside).
enum NearestKey {
    static func hint(for key: String, among known: some Sequence<String>) -> String {
        let typed = Array(key.lowercased())
        let limit = max(1, typed.count / 3)
        var best: (key: String, distance: Int)?
        for candidate in known.sorted() {
            let distance = editDistance(typed, Array(candidate.lowercased()))
            if distance <= limit, distance < (best?.distance ?? .max) { best = (candidate, distance) }
        }
        return best.map { " (did you mean \($0.key)?)" } ?? ""
    }

    /// Edit distance counting insertions, deletions, substitutions and swaps of neighbouring
    /// letters (optimal string alignment), so `prot` is one edit from `port`.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var rows = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { rows[i][0] = i }
        for j in 0...b.count { rows[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
                }
            }
        }
        return rows[a.count][b.count]
    }
}
