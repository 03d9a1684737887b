/// Splits a command line the way a POSIX shell splits words: blanks separate words, single quotes
/// keep everything literally, double quotes keep blanks and honour `\"` and `\\`, and a backslash
/// outside quotes escapes the next character. Nothing is expanded.
func splitCommandLine(_ line: String) throws(CommandError) -> [String] {
    var words: [String] = []
    var word = ""
    var inWord = false
    var quote: Character?
    var escaped = false
    for character in line {
        if escaped {
            word.append(character)
            escaped = false
            continue
        }
        switch (quote, character) {
        case ("'", "'"), ("\"", "\""):
            quote = nil
        case ("'", _):
            word.append(character)
        case ("\"", "\\"), (nil, "\\"):
            escaped = true
            inWord = true
        case ("\"", _):
            word.append(character)
        case (nil, "'"), (nil, "\""):
            quote = character
            inWord = true
        case (nil, " "), (nil, "\t"), (nil, "\n"):
            if inWord { words.append(word) }
            word = ""
            inWord = false
        default:
            word.append(character)
            inWord = true
        }
    }
    guard quote == nil, !escaped else {
        throw CommandError(.invalid, "exec.command: unterminated quote or escape in \"\(line)\"")
    }
    if inWord { words.append(word) }
    return words
}
