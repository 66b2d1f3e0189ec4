import ArgumentParser

/// `tradesync completions bash|zsh|fish`: the shell completion script.
struct CompletionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "completions",
        abstract: "Print the shell completion script for bash, zsh or fish.",
        discussion: """
            Install it where your shell looks, e.g. \
            `tradesync completions bash > /etc/bash_completion.d/tradesync`, \
            `tradesync completions zsh > "${fpath[1]}/_tradesync"`, \
            `tradesync completions fish > ~/.config/fish/completions/tradesync.fish`. \
            (tradesyncd prints its own with --generate-completion-script bash|zsh|fish.)
            """)

    /// The shells swift-argument-parser writes scripts for.
    enum Shell: String, CaseIterable, ExpressibleByArgument {
        case bash, zsh, fish

        var completionShell: CompletionShell {
            switch self {
            case .bash: .bash
            case .zsh: .zsh
            case .fish: .fish
            }
        }
    }

    @Argument(help: ArgumentHelp("bash, zsh or fish.", valueName: "shell"))
    var shell: Shell

    func run() {
        print(TradeSync.completionScript(for: shell.completionShell))
    }
}
