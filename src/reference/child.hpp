// Internal to src/reference: running one child (the probe or a peer reader) under RunOptions.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "process.hpp"
#include "reference.hpp"

namespace gguf::reference {

// The last lines of a log (at most 25 lines / 4 KiB).
std::string log_tail(std::string_view text);

// Run `program args` with `env` under the limits of `options`, and record in `o` how it ended:
// duration, signal, time-out, exit code and the tail of its stderr. The caller reads the result's
// stdout and classifies the outcome.
ProcessResult run_child(std::filesystem::path program, std::vector<std::string> args,
                        std::vector<std::pair<std::string, std::string>> env, const RunOptions& options,
                        StageOutcome& o);

}  // namespace gguf::reference
