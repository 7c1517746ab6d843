// The logits stage: the reference decodes a token sequence and returns every position's logits;
// every logit must be finite; optionally they are compared with a second source (a logits file
// written by an implementation under test, another reference build, or the built-in forward pass).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "forward/model.hpp"
#include "logits.hpp"
#include "reference/reference.hpp"
#include "report.hpp"

namespace gguf::crossval {

// The second source the reference's logits are compared with.
struct AgainstSource {
    enum class Kind {
        file,       // a logits file (JSON or GLOG) written by an implementation under test
        reference,  // a directory holding another llama.cpp-family build, which decodes the same tokens
        builtin,    // the built-in forward pass (src/forward/), which decodes the tokens the reference decoded
        kld_base,   // llama.cpp's KL-divergence base file (llama-perplexity --kl-divergence-base): the reference
                    // decodes its tokens chunk by chunk and is scored against its log-probabilities
    };
    Kind kind = Kind::file;
    std::filesystem::path path;  // the file or the directory; empty for builtin
    // builtin only: exact f32 activations, or rounded as llama.cpp's CPU backend rounds them before
    // each product with a quantized weight (`--builtin-activations`, docs/forward-pass.md)
    forward::Activations activations = forward::Activations::exact;

    // "builtin" is the built-in forward pass (a file of that name: ./builtin), an existing directory a
    // reference build, a file starting with "_logits_" a KL-divergence base file, anything else a logits file.
    static AgainstSource from_argument(const std::string& text);
};

struct LogitsOptions {
    bool enabled = false;
    std::string tokens;  // comma-separated token ids; empty: the probe's default sequence
    // --text: words instead of ids. The flow has the reference tokenize it (add_special: BOS as the
    // vocabulary asks) and decodes those ids, in this stage and in the trace stage.
    std::optional<std::string> text;
    std::optional<AgainstSource> against;
    Thresholds thresholds;
    // Against builtin, unless thresholds were given explicitly, the comparison uses
    // builtin_thresholds() of the file's weight types instead of `thresholds`.
    bool thresholds_given = false;
    std::optional<std::filesystem::path> save;  // write the reference's logits here (.bin: GLOG, else JSON)
    // How the built-in forward pass treats activations when it is the second source (of this stage
    // and of the trace stage): copied into AgainstSource::activations.
    forward::Activations builtin_activations = forward::Activations::exact;
};

// The distribution statistics (details["distribution"]) as lines for the terminal, laid out as
// llama-perplexity prints them; empty when there are none.
std::string distribution_text(const nlohmann::json& details);

// Failures of this stage beyond the reference's own (CheckFailure): non_finite_logits,
// logits_diverge (a disagreement, never an XFAIL), against_unavailable.
Stage logits_stage(const reference::Reference& ref, const std::filesystem::path& model, const LogitsOptions& options,
                   const reference::RunOptions& run);

}  // namespace gguf::crossval
