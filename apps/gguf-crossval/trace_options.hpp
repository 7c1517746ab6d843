// crossval's --trace options, and where --against goes when --trace is given.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "crossval/flow.hpp"

namespace cli {

// --trace, --trace-out and the trace thresholds (--trace-max-abs, --trace-min-cosine, --trace-max-nmse).
void add_trace_options(CLI::App& app, gguf::crossval::TraceOptions& trace);

// With --trace, --against names the trace stage's second source: "builtin", a trace file (checked
// here), or a directory holding another reference build; with --logits too, builtin and a directory
// serve both stages, a logits file the logits stage only. Without --trace, --against is the logits
// stage's (check_against).
// The trace decodes --tokens. Returns an error message, empty when fine.
std::string route_against(const std::string& against, gguf::crossval::LogitsOptions& logits,
                          gguf::crossval::TraceOptions& trace);

}  // namespace cli
