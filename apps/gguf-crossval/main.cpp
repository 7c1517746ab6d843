// gguf-crossval: validate GGUF files and cross-check them against the readers that consume them.
#include <fmt/format.h>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <iterator>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "command.hpp"
#include "util/atomic_file.hpp"
#include "util/cleanup.hpp"
#include "util/escape.hpp"

namespace cli {

std::string safe(std::string_view text) {
    return gguf::util::terminal_safe(text);
}

bool output_path_ok(const std::string& path, std::string_view flag) {
    if (auto bad = gguf::util::check_output_path(path)) {
        fmt::print(stderr, "error: {} {}\n", flag, bad->message);
        return false;
    }
    return true;
}

}  // namespace cli

int main(int argc, char** argv) {
    // A write past RLIMIT_FSIZE must fail with EFBIG and be reported, not kill us with SIGXFSZ.
    std::signal(SIGXFSZ, SIG_IGN);
    // An interrupted run leaves no child process and no temporary file behind.
    gguf::util::install_signal_cleanup();
    CLI::App app{
        "gguf-crossval: validate GGUF model files and check that every reader, above all llama.cpp, "
        "reads them the same way"};
    app.require_subcommand(1);
    app.footer("Run 'gguf-crossval SUBCOMMAND --help' for each subcommand's options.");
    // Each subcommand by its name, in the order --help lists them. Only the one named by the first
    // argument is built: building all eleven (their options, validators, help texts) took 0.3 ms of
    // every start. Without one, all are, for the tool's help and its error messages.
    using Add = cli::Command (*)(CLI::App&);
    static constexpr std::pair<std::string_view, Add> kCommands[] = {
        {"gen-mini-gguf", cli::add_gen_mini}, {"validate", cli::add_validate},
        {"inspect", cli::add_inspect},        {"diff", cli::add_diff},
        {"crossval", cli::add_crossval},      {"full-crossval", cli::add_full_crossval},
        {"gen-model", cli::add_gen_model},    {"gen-corpus", cli::add_gen_corpus},
        {"matrix", cli::add_matrix},          {"merge", cli::add_merge},
        {"dequant", cli::add_dequant},
    };
    const std::string_view first = argc > 1 ? argv[1] : "";
    const auto* named = std::find_if(std::begin(kCommands), std::end(kCommands),
                                     [&](const auto& command) { return command.first == first; });
    std::vector<cli::Command> commands;
    if (named != std::end(kCommands)) {
        commands.push_back(named->second(app));
    } else {
        for (const auto& [name, add] : kCommands) {
            commands.push_back(add(app));
            if (commands.back().app->get_name() != name) {  // the table and the command disagree: a bug
                std::fprintf(stderr, "internal error: subcommand '%s' is listed as '%.*s'\n",
                             commands.back().app->get_name().c_str(), static_cast<int>(name.size()), name.data());
                return cli::kUsage;
            }
        }
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return cli::kUsage;
    }
    for (const auto& c : commands) {
        if (!c.app->parsed()) continue;
        try {
            return c.run();
        } catch (const std::system_error& e) {  // printing failed (stdout or stderr full, EFBIG, closed)
            std::fprintf(stderr, "error: cannot write the output: %s\n", e.what());
            return cli::kWriteFailed;
        }
    }
    return cli::kUsage;
}
