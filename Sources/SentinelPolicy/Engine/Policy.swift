/// A policy compiled for one context: the object every enforcement point asks.
///
/// Built from a `PolicyDocument` and a `PolicyContext`; compiling resolves path roots, binds
/// command names to executables and checks host patterns and address ranges, so that a mistake
/// in the policy is reported when it loads rather than when an agent trips over it. After that,
/// checks are pure functions of their input and the file system (paths, executables), except
/// URL and connect checks, which also need DNS (see `evaluateURL`).
public struct Policy: Sendable {
    /// The document this policy was compiled from.
    public let document: PolicyDocument
    /// The context it was compiled against.
    public let context: PolicyContext
    /// Things that compiled but deserve attention (a command with no executable on this machine).
    public let warnings: [PolicyWarning]
    /// The compiled path rules.
    public let pathRules: PathRules
    /// The compiled command rules and their evaluator (with its resolution cache).
    let commandEvaluator: CommandEvaluator
    /// The compiled host, address and phishing rules.
    let network: NetworkRules

    /// Compiles `document` for `context`.
    ///
    /// - Throws: `PolicyError` pointing at the entry that cannot be compiled.
    public init(document: PolicyDocument, context: PolicyContext) throws(PolicyError) {
        self.document = document
        self.context = context
        self.pathRules = try PathRules(
            document: document, baseDirectory: context.baseDirectory, homeDirectory: context.homeDirectory,
            translation: context.pathTranslation)
        let commandRules = try CommandRules.compile(document, context: context)
        self.commandEvaluator = CommandEvaluator(rules: commandRules)
        self.network = try NetworkRules(document: document)
        self.warnings = commandRules.warnings.map { warning in
            PolicyWarning(
                location: document.allowedCommands.first(where: { $0.keyPath == warning.keyPath })?.location,
                keyPath: warning.keyPath, message: warning.message
            )
        }
    }

    /// The compiled command rules (each entry bound to the executables it allows).
    public var commandRules: CommandRules { commandEvaluator.rules }

    /// A digest of everything decisions depend on: the document, the context and every compiled
    /// rule. Compatibility mode records it at activation and recomputes it in its tamper checks,
    /// so a policy changed in memory is noticed (the original's blind spot, §4.1). Hashing is
    /// seeded per process, so the value means nothing outside it.
    public var fingerprint: Int {
        var hasher = Hasher()
        hasher.combine(document)
        hasher.combine(context)
        hasher.combine(pathRules)
        hasher.combine(commandRules.rules)
        hasher.combine(commandRules.denylist.blockedCommandBases)
        hasher.combine(network)
        return hasher.finalize()
    }

    /// Compiles a loaded policy for `context` (the calling process's by default).
    public init(loaded: LoadedPolicy, context: PolicyContext = .current()) throws(PolicyError) {
        try self.init(document: loaded.document, context: context)
    }

    // MARK: - Files

    /// Decides whether the file at `path` may be read or written.
    ///
    /// - Parameters:
    ///   - path: the path as the program gave it (relative paths resolve against `workingDirectory`).
    ///   - access: read or write.
    ///   - workingDirectory: the working directory of the process that will open the file; the
    ///     context's base directory when `nil`.
    ///   - processID: the process whose `/proc/self` and `/dev/fd` the path means (`nil`: this one).
    ///   - entryOnly: the write removes, renames or links a name and leaves the file's contents
    ///     alone, so a file with several hard links may be its operand.
    public func checkPath(
        _ path: String, access: FileAccess, workingDirectory: String? = nil, processID: Int32? = nil, entryOnly: Bool = false
    ) -> Verdict {
        pathRules.check(
            path, access: access, workingDirectory: workingDirectory ?? context.baseDirectory, processID: processID,
            entryOnly: entryOnly)
    }

    // MARK: - Input

    /// Checks text an agent received against `blocked_keywords` (case-insensitive substrings), the
    /// original's `scan_input` without its AI judge.
    public func checkInput(_ text: String) -> Verdict {
        let lowered = text.lowercased()
        for keyword in document.blockedKeywords {
            let needle = keyword.value.lowercased()
            if !needle.isEmpty, lowered.contains(needle) {
                return .deny(
                    rule: keyword.keyPath, reason: "Input contains restricted content (\"\(keyword.value)\").",
                    remedy: "Remove \"\(keyword.value)\" from blocked_keywords if this phrase is expected."
                )
            }
        }
        return .allow(rule: "blocked_keywords", reason: "The input contains no blocked keyword.")
    }
}
