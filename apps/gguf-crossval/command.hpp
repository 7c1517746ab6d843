// The CLI's commands: each file adds one subcommand and returns how to run it.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <string_view>

namespace cli {

// Exit codes shared by every subcommand. Subcommands with more outcomes (crossval) add their own
// above these; all are listed in the README.
enum Exit : int {
    kOk = 0,
    kInvalid = 1,      // the file is not valid GGUF
    kUsage = 2,        // bad flags, missing file, an output path that names a directory
    kWriteFailed = 5,  // an output file (report, fixture, summary) could not be written; the old one is intact
};

// Text from a file or a path, made safe to print on a terminal (util/escape.hpp).
std::string safe(std::string_view text);

// Refuses, before any work, an output path that names a directory, a socket or a block device:
// prints the error and returns false.
bool output_path_ok(const std::string& path, std::string_view flag);

struct Command {
    CLI::App* app;
    std::function<int()> run;
};

Command add_gen_mini(CLI::App& root);
Command add_validate(CLI::App& root);
Command add_inspect(CLI::App& root);
Command add_diff(CLI::App& root);
Command add_crossval(CLI::App& root);
Command add_full_crossval(CLI::App& root);
Command add_gen_model(CLI::App& root);
Command add_gen_corpus(CLI::App& root);
Command add_matrix(CLI::App& root);
Command add_merge(CLI::App& root);
Command add_dequant(CLI::App& root);

}  // namespace cli
