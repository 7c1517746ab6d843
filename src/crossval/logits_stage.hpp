// The logits stage: the reference decodes a token sequence and returns every position's logits;
// every logit must be finite; optionally they are compared with a second source (a logits file
// written by an implementation under test, or another reference build).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "logits.hpp"
#include "reference/reference.hpp"
#include "report.hpp"

namespace gguf::crossval {

struct LogitsOptions {
    bool enabled = false;
    std::string tokens;  // comma-separated token ids; empty: the probe's default sequence
    std::optional<std::filesystem::path> against;  // a logits file (JSON or GLOG), or a reference build directory
    Thresholds thresholds;
    std::optional<std::filesystem::path> save;  // write the reference's logits here (.bin: GLOG, else JSON)
};

// Failures of this stage beyond the reference's own (CheckFailure): non_finite_logits,
// logits_diverge (a disagreement, never an XFAIL), against_unavailable.
Stage logits_stage(const reference::Reference& ref, const std::filesystem::path& model, const LogitsOptions& options,
                   const reference::RunOptions& run);

}  // namespace gguf::crossval
