#include "trace_stage.hpp"

#include <fmt/format.h>
#include <unistd.h>
#include <chrono>

#include "describe/description.hpp"

namespace gguf::crossval {
namespace {

nlohmann::json number(double v) {
    return describe::render_float(v);
}

nlohmann::json metrics_json(const Metrics& m) {
    return {{"max_abs_diff", number(m.max_abs)},
            {"max_abs_index", m.max_abs_index},
            {"nmse", number(m.nmse)},
            {"cosine", number(m.cosine)},
            {"non_finite_mismatches", m.non_finite_mismatches}};
}

nlohmann::json optional_json(const auto& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::json tensor_json(const TensorComparison& c) {
    nlohmann::json j{{"key", c.key},
                     {"layer", optional_json(c.layer)},
                     {"op", c.op},
                     {"status", tensor_status_name(c.status)},
                     {"shape", c.shape_a.empty() ? c.shape_b : c.shape_a}};
    if (c.status == TensorStatus::compared) {
        j["metrics"] = metrics_json(c.metrics);
        nlohmann::json positions = nlohmann::json::array();
        for (std::size_t p = 0; p < c.positions.size(); ++p) {
            auto m = metrics_json(c.positions[p]);
            m["position"] = p;
            positions.push_back(std::move(m));
        }
        j["positions"] = std::move(positions);
        j["diverges"] = c.diverges;
        j["reasons"] = c.reasons;
        j["first_position"] = optional_json(c.first_position);
    }
    if (c.shape_a != c.shape_b && !c.shape_a.empty() && !c.shape_b.empty()) j["shape_other"] = c.shape_b;
    return j;
}

void fail(Stage& s, Failure failure, std::string message) {
    s.ok = false;
    s.failure = failure;
    s.message = std::move(message);
}

std::string join_tokens(const std::vector<std::int32_t>& tokens) {
    return fmt::format("{}", fmt::join(tokens, ","));
}

// The reference's trace of `model`, written to `path` by the probe.
TraceResult<Trace> reference_trace(const reference::Reference& ref, const std::filesystem::path& model,
                                   const std::string& tokens, const std::string& sha256,
                                   const std::filesystem::path& path, const reference::RunOptions& run,
                                   reference::StageOutcome& outcome) {
    std::vector<std::string> args{"trace", "--output", path.string()};
    if (!tokens.empty()) args.insert(args.end(), {"--tokens", tokens});
    if (!sha256.empty()) args.insert(args.end(), {"--sha256", sha256});
    args.insert(args.end(), {"--", model.string()});
    outcome = reference::run_probe(ref, args, run);
    if (!outcome.ok) return TraceError{TraceCode::source_failed, 0, outcome.message};
    auto trace = read_trace(path);
    if (trace) trace->source = ref.name + " (" + ref.dir.string() + ")";
    return trace;
}

std::filesystem::path temporary_trace(std::string_view tag) {
    static int counter = 0;
    return std::filesystem::temp_directory_path() /
           fmt::format("gguf-crossval-trace-{}-{}-{}.safetensors", ::getpid(), counter++, tag);
}

// The second source's trace.
TraceResult<Trace> against_trace(const AgainstSource& source, const std::filesystem::path& model, const Trace& ours,
                                 const reference::RunOptions& run, nlohmann::json& about) {
    using Kind = AgainstSource::Kind;
    if (source.kind == Kind::builtin) {
        about = {
            {"source", "builtin"}, {"kind", "builtin"}, {"activations", forward::activations_name(source.activations)}};
        return builtin_trace(model, ours.tokens, source.activations);
    }
    if (source.kind == Kind::file) {
        about = {{"source", source.path.string()}, {"kind", "file"}};
        return read_trace(source.path);
    }
    const auto located = reference::locate(source.path);
    if (!located.ref) return TraceError{TraceCode::source_failed, 0, located.error};
    about = {{"source", source.path.string()},
             {"kind", "reference"},
             {"name", located.ref->name},
             {"version", located.ref->version}};
    const auto path = temporary_trace("against");
    reference::StageOutcome o;
    auto t = reference_trace(*located.ref, model, join_tokens(ours.tokens), ours.model_sha256, path, run, o);
    std::error_code ec;
    std::filesystem::remove(path, ec);
    if (!t && !o.ok) return TraceError{TraceCode::source_failed, 0, "the second reference failed: " + o.message};
    return t;
}

}  // namespace

Stage trace_stage(const reference::Reference& ref, const std::filesystem::path& model, const std::string& sha256,
                  const TraceOptions& options, const reference::RunOptions& run) {
    Stage s;
    s.id = StageId::trace;
    s.ran = true;
    s.details["thresholds"] = {{"max_abs", options.thresholds.max_abs},
                               {"min_cosine", options.thresholds.min_cosine},
                               {"max_nmse", options.thresholds.max_nmse}};
    const auto path = options.save.value_or(temporary_trace("reference"));
    reference::StageOutcome o;
    auto ours = reference_trace(ref, model, options.tokens, sha256, path, run, o);
    s.duration_ms = o.duration_ms;
    if (!options.save) {
        std::error_code ec;
        std::filesystem::remove(path, ec);
    }
    if (!o.ok) {
        s.failure = o.failure;
        s.message = o.message;
        s.log_excerpt = o.log_excerpt;
        return s;
    }
    if (!ours) {
        fail(s, reference::FailureClass::other, "the probe's trace could not be read: " + ours.error().message);
        return s;
    }
    s.ok = true;
    s.details["tokens"] = ours->tokens;
    s.details["n_tensors"] = ours->tensors.size();
    if (options.save) s.details["saved_to"] = options.save->string();
    if (!options.against) return s;

    nlohmann::json about;
    const auto start = std::chrono::steady_clock::now();
    auto theirs = against_trace(*options.against, model, *ours, run, about);
    s.duration_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    s.details["against"] = about;
    if (!theirs) {
        fail(s, CheckFailure::against_unavailable, theirs.error().message);
        return s;
    }
    auto cmp = compare_traces(*ours, *theirs, options.thresholds);
    if (!cmp) {
        fail(s, CheckFailure::against_unavailable, cmp.error().message);
        return s;
    }
    nlohmann::json tensors = nlohmann::json::array();
    for (const auto& c : cmp->tensors) tensors.push_back(tensor_json(c));
    s.details["tensors"] = std::move(tensors);
    s.details["n_compared"] = cmp->n_compared;
    s.details["n_diverging"] = cmp->n_diverging;
    s.details["only_reference"] = cmp->only_a;
    s.details["only_other"] = cmp->only_b;
    s.details["incomparable"] = cmp->incomparable;
    s.details["notes"] = cmp->notes;
    s.details["first_divergence"] = nullptr;
    if (const auto& d = cmp->first_divergence) {
        s.details["first_divergence"] = {{"tensor", d->key},
                                         {"layer", optional_json(d->layer)},
                                         {"position", optional_json(d->position)},
                                         {"reasons", d->reasons}};
        fail(s, CheckFailure::trace_diverge,
             fmt::format("the traces diverge first at tensor '{}'{}{}: {}", d->key,
                         d->layer ? fmt::format(" (layer {})", *d->layer) : "",
                         d->position ? fmt::format(", position {}", *d->position) : "", fmt::join(d->reasons, "; ")));
    } else if (cmp->n_compared == 0) {
        fail(s, CheckFailure::nothing_compared,
             fmt::format("the two traces share no tensor ({} only in the reference's, {} only in the other)",
                         cmp->only_a.size(), cmp->only_b.size()));
    }
    return s;
}

std::string trace_table(const Stage& s) {
    const auto& d = s.details;
    if (!d.contains("tensors")) return {};
    std::string out = fmt::format(
        "  trace: {} tensors compared in graph order, {} diverging (thresholds: max_abs {}, "
        "min_cosine {}, max_nmse {})\n",
        d["n_compared"].get<std::size_t>(), d["n_diverging"].get<std::size_t>(), d["thresholds"]["max_abs"].dump(),
        d["thresholds"]["min_cosine"].dump(), d["thresholds"]["max_nmse"].dump());
    out += fmt::format("    {:<28} {:>5} {:<10} {:<16} {:>11} {:>7} {:>11} {:>13}  {}\n", "tensor", "layer", "op",
                       "shape", "max_abs", "at", "nmse", "cosine", "verdict");
    const std::string first = d["first_divergence"].is_null() ? "" : d["first_divergence"]["tensor"].get<std::string>();
    // Figures in the report are exact; the table rounds them to what a reader compares at a glance.
    auto text = [](const nlohmann::json& v, const char* spec) {
        return v.is_number() ? fmt::format(fmt::runtime(spec), v.get<double>()) : v.get<std::string>();
    };
    for (const auto& t : d["tensors"]) {
        if (t["status"] != "compared") continue;
        const auto& m = t["metrics"];
        const auto key = t["key"].get<std::string>();
        std::string verdict = t["diverges"].get<bool>() ? "DIVERGES" : "ok";
        if (key == first) {
            verdict += " <- first";
            if (!t["first_position"].is_null()) verdict += fmt::format(" (position {})", t["first_position"].dump());
        }
        out += fmt::format("    {:<28} {:>5} {:<10} {:<16} {:>11} {:>7} {:>11} {:>13}  {}\n", key,
                           t["layer"].is_null() ? "-" : t["layer"].dump(), t["op"].get<std::string>(),
                           t["shape"].dump(), text(m["max_abs_diff"], "{:.3g}"), m["max_abs_index"].dump(),
                           text(m["nmse"], "{:.3g}"), text(m["cosine"], "{:.9f}"), verdict);
    }
    auto list = [&](const char* what, const nlohmann::json& keys) {
        if (keys.empty()) return;
        std::vector<std::string> names;
        for (const auto& k : keys) names.push_back(k.get<std::string>());
        const std::size_t shown = std::min<std::size_t>(names.size(), 12);
        out += fmt::format("    {} ({}): {}{}\n", what, names.size(),
                           fmt::join(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(shown), ", "),
                           shown < names.size() ? ", ... (all in the report)" : "");
    };
    list("only in the reference's trace", d["only_reference"]);
    list("only in the other trace", d["only_other"]);
    list("different element counts", d["incomparable"]);
    for (const auto& n : d["notes"]) out += "    note: " + n.get<std::string>() + "\n";
    return out;
}

}  // namespace gguf::crossval
