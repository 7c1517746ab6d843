// The trace stage: the reference decodes the token sequence with every graph node captured (probe
// mode trace), and the trace is compared tensor by tensor with a second source: a trace file
// written by an implementation under test, another reference build, or the built-in forward pass.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "logits_stage.hpp"
#include "reference/reference.hpp"
#include "report.hpp"
#include "trace.hpp"

namespace gguf::crossval {

struct TraceOptions {
    bool enabled = false;
    std::string tokens;                         // comma-separated token ids; empty: the probe's default sequence
    std::optional<AgainstSource> against;       // a trace file (kind file), another reference build, or builtin
    std::optional<std::filesystem::path> save;  // keep the reference's trace here (else a temporary file)
    TraceThresholds thresholds;
};

// The built-in forward pass as a trace source: the model and the tokens the reference decoded.
TraceResult<Trace> builtin_trace(const std::filesystem::path& model, const std::vector<std::int32_t>& tokens,
                                 forward::Activations activations = forward::Activations::exact);

// Failure classes beyond the reference's own: trace_diverge (a disagreement, never an XFAIL),
// against_unavailable (the second source could not be read or run), nothing_compared (the two
// traces share no tensor).
Stage trace_stage(const reference::Reference& ref, const std::filesystem::path& model, const std::string& sha256,
                  const TraceOptions& options, const reference::RunOptions& run);

// A one-line-per-tensor table of a trace stage's details, for the terminal.
std::string trace_table(const Stage& stage);

}  // namespace gguf::crossval
