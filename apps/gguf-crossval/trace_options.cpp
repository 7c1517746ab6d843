#include "trace_options.hpp"

#include "crossval_output.hpp"

namespace cli {

void add_trace_options(CLI::App& app, gguf::crossval::TraceOptions& trace) {
    app.add_flag("--trace", trace.enabled,
                 "Add the trace stage: the reference decodes --tokens with every graph node captured; with --against "
                 "(builtin, a trace file: docs/trace-format.md, or another build's directory) the two traces are "
                 "compared tensor by tensor and the first diverging tensor is named");
    app.add_option("--trace-out", trace.save, "Keep the reference's trace in this safetensors file");
    app.add_option("--trace-max-abs", trace.thresholds.max_abs,
                   "Largest allowed |reference - other| per traced element")
        ->capture_default_str();
    app.add_option("--trace-min-cosine", trace.thresholds.min_cosine,
                   "Smallest allowed cosine similarity per traced tensor and position")
        ->capture_default_str();
    app.add_option("--trace-max-nmse", trace.thresholds.max_nmse,
                   "Largest allowed normalised mean squared error per traced tensor")
        ->capture_default_str();
}

std::string route_against(const std::string& against, gguf::crossval::LogitsOptions& logits,
                          gguf::crossval::TraceOptions& trace) {
    using Kind = gguf::crossval::AgainstSource::Kind;
    if (!trace.enabled) return check_against(against, logits);
    trace.tokens = logits.tokens;
    if (against.empty()) return {};
    auto source = gguf::crossval::AgainstSource::from_argument(against);
    source.activations = logits.builtin_activations;
    if (source.kind == Kind::kld_base) {
        // a KL-divergence base file holds log-probabilities, no trace: it is the logits stage's alone
        if (!logits.enabled) return "--against " + against + ": a KL-divergence base file needs --logits";
        return check_against(against, logits);
    }
    if (source.kind == Kind::file) {
        // A trace file; with --logits, a logits file is the logits stage's instead.
        auto t = gguf::crossval::read_trace(source.path);
        if (t) {
            trace.against = source;
            return {};
        }
        // check_against reads it as a logits file (once): not one either, the trace reader's error stands.
        if (logits.enabled && check_against(against, logits).empty()) return {};
        return "--against: " + t.error().message;
    }
    if (logits.enabled) {
        if (auto why = check_against(against, logits); !why.empty()) return why;
    } else if (source.kind == Kind::reference) {
        if (auto located = gguf::reference::locate(source.path); !located.ref)
            return "--against " + against + ": " + located.error;
    }
    trace.against = source;
    return {};
}

}  // namespace cli
