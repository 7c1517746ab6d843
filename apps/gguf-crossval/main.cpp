// gguf-crossval: validate GGUF files and cross-check them against the readers that consume them.
#include <fmt/format.h>
#include <csignal>
#include <cstdio>
#include <system_error>
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
    const std::vector<cli::Command> commands{
        cli::add_gen_mini(app), cli::add_validate(app),      cli::add_inspect(app),   cli::add_diff(app),
        cli::add_crossval(app), cli::add_full_crossval(app), cli::add_gen_model(app), cli::add_gen_corpus(app),
        cli::add_matrix(app),   cli::add_merge(app),         cli::add_dequant(app),
    };
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
