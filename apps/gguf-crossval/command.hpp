// The CLI's commands: each file adds one subcommand and returns how to run it.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <string_view>

#include "crossval/exit.hpp"

namespace cli {

// Exit codes: one list for every command (crossval/exit.hpp).
using enum gguf::crossval::Exit;

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
