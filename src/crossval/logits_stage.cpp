#include "logits_stage.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cmath>

#include "builtin_source.hpp"
#include "describe/description.hpp"

namespace gguf::crossval {
namespace {

nlohmann::json number(double v) {
    return describe::render_float(v);
}

nlohmann::json thresholds_json(const Thresholds& t) {
    return {{"max_abs", t.max_abs},
            {"min_cosine", t.min_cosine},
            {"max_kl", t.max_kl},
            {"require_top1", t.require_top1},
            {"min_top5_overlap", t.min_top5_overlap}};
}

// What the reference's own logits look like, position by position.
nlohmann::json position_summary(const Logits& l) {
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t p = 0; p < l.n_positions(); ++p) {
        const auto row = l.row(p);
        bool finite = true;
        std::size_t argmax = 0;
        for (std::size_t i = 0; i < row.size(); ++i) {
            finite = finite && std::isfinite(row[i]);
            if (row[i] > row[argmax]) argmax = i;
        }
        out.push_back({{"position", p},
                       {"token", p < l.tokens.size() ? nlohmann::json(l.tokens[p]) : nlohmann::json(nullptr)},
                       {"finite", finite},
                       {"argmax", argmax},
                       {"max", number(row[argmax])}});
    }
    return out;
}

nlohmann::json metrics_json(const PositionMetrics& m) {
    return {{"position", m.position},           {"finite", m.finite},         {"max_abs_diff", number(m.max_abs_diff)},
            {"max_abs_index", m.max_abs_index}, {"cosine", number(m.cosine)}, {"kl", number(m.kl)},
            {"top5_overlap", m.top5_overlap},   {"top1_match", m.top1_match}, {"ref_top1", m.ref_top1},
            {"test_top1", m.test_top1}};
}

LogitsResult<Logits> logits_from(const reference::StageOutcome& o) {
    return parse_logits_json(o.payload.dump());
}

void fail(Stage& s, Failure failure, std::string message) {
    s.ok = false;
    s.failure = failure;
    s.message = std::move(message);
}

// The second source's logits: a file, another reference build decoding the same tokens, or the
// built-in forward pass decoding the tokens the reference decoded.
LogitsResult<Logits> against_logits(const AgainstSource& source, const std::filesystem::path& model,
                                    const Logits& ref_logits, const std::string& tokens,
                                    const reference::RunOptions& run, nlohmann::json& about) {
    switch (source.kind) {
        case AgainstSource::Kind::file:
            about = {{"source", source.path.string()}, {"kind", "file"}};
            return read_logits_file(source.path);
        case AgainstSource::Kind::builtin:
            about = {{"source", "builtin"},
                     {"kind", "builtin"},
                     {"name", "gguf-crossval forward pass"},
                     {"activations", forward::activations_name(source.activations)}};
            return builtin_logits(model, ref_logits.tokens, source.activations);
        case AgainstSource::Kind::reference:
            break;
    }
    const auto located = reference::locate(source.path);
    if (!located.ref) return LogitsError{LogitsCode::io_error, 0, located.error};
    about = {{"source", source.path.string()},
             {"kind", "reference"},
             {"name", located.ref->name},
             {"version", located.ref->version}};
    const auto o = reference::run_logits(*located.ref, model, tokens, run);
    if (!o.ok) return LogitsError{LogitsCode::io_error, 0, fmt::format("the second reference failed: {}", o.message)};
    return logits_from(o);
}

// The thresholds of this comparison: builtin_thresholds() against builtin unless some were given.
Thresholds thresholds_for(const LogitsOptions& options, const std::filesystem::path& model, nlohmann::json& details) {
    if (!options.against || options.against->kind != AgainstSource::Kind::builtin || options.thresholds_given) {
        return options.thresholds;
    }
    auto file = gguf::open(model);
    if (!file) return options.thresholds;
    std::string why;
    const Thresholds t = builtin_thresholds(*file, why);
    details["thresholds"] = thresholds_json(t);
    details["thresholds_for"] = why;
    return t;
}

}  // namespace

AgainstSource AgainstSource::from_argument(const std::string& text) {
    if (text == "builtin") return {Kind::builtin, {}};
    if (std::filesystem::is_directory(text)) return {Kind::reference, text};
    return {Kind::file, text};
}

Stage logits_stage(const reference::Reference& ref, const std::filesystem::path& model, const LogitsOptions& options,
                   const reference::RunOptions& run) {
    const auto o = reference::run_logits(ref, model, options.tokens, run);
    Stage s;
    s.id = StageId::logits;
    s.ran = true;
    s.duration_ms = o.duration_ms;
    s.details["thresholds"] = thresholds_json(options.thresholds);
    if (!o.ok) {
        s.failure = o.failure;
        s.message = o.message;
        s.log_excerpt = o.log_excerpt;
        return s;
    }
    auto ref_logits = logits_from(o);
    if (!ref_logits) {
        fail(s, reference::FailureClass::other, "the probe's logits could not be read: " + ref_logits.error().message);
        return s;
    }
    const auto& l = *ref_logits;
    s.ok = true;
    s.details["tokens"] = l.tokens;
    s.details["n_vocab"] = l.n_vocab;
    s.details["n_positions"] = l.n_positions();
    s.details["kv"] = o.payload.value("kv", std::string());
    if (o.payload.contains("kv_note")) s.details["kv_note"] = o.payload["kv_note"];
    s.details["positions"] = position_summary(l);
    if (options.save) {
        const auto format = options.save->extension() == ".bin" ? LogitsFormat::binary : LogitsFormat::json;
        if (auto w = write_logits_file(*options.save, l, format); !w) {
            fail(s, reference::FailureClass::other, "cannot save the reference's logits: " + w.error().message);
            s.details["save_failed"] = true;
            return s;
        }
        s.details["saved_to"] = options.save->string();
    }
    for (const auto& p : s.details["positions"]) {
        if (!p["finite"].get<bool>()) {
            fail(s, CheckFailure::non_finite_logits,
                 fmt::format("the reference's logits at position {} are not all finite", p["position"].get<int>()));
            return s;
        }
    }
    if (!options.against) return s;

    nlohmann::json about;
    const auto start = std::chrono::steady_clock::now();
    auto theirs = against_logits(*options.against, model, l, options.tokens, run, about);
    s.duration_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    s.details["against"] = about;
    if (!theirs) {
        fail(s, CheckFailure::against_unavailable, theirs.error().message);
        return s;
    }
    auto metrics = compare_logits(l, *theirs);
    if (!metrics) {
        fail(s, CheckFailure::logits_diverge, "the two sources cannot be compared: " + metrics.error().message);
        return s;
    }
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& m : *metrics) rows.push_back(metrics_json(m));
    s.details["metrics"] = std::move(rows);
    const auto divergence = first_divergence(*metrics, thresholds_for(options, model, s.details));
    double worst_abs = 0, worst_cos = 1, worst_kl = 0;
    for (const auto& m : *metrics) {
        worst_abs = std::max(worst_abs, m.max_abs_diff);
        worst_cos = std::min(worst_cos, m.cosine);
        worst_kl = std::max(worst_kl, m.kl);
    }
    // One line for the terminal: the worst figures over the positions.
    s.message = fmt::format("against {}: max_abs_diff {:.3g}, min cosine {:.9f}, max KL {:.3g}{}",
                            about.value("kind", "?"), worst_abs, worst_cos, worst_kl,
                            s.details.contains("thresholds_for")
                                ? fmt::format(" (thresholds for {})", s.details["thresholds_for"].get<std::string>())
                                : std::string());
    s.details["first_divergence"] = nullptr;
    if (divergence) {
        s.details["first_divergence"] = {{"position", divergence->position}, {"reasons", divergence->reasons}};
        fail(s, CheckFailure::logits_diverge,
             fmt::format("the logits diverge first at position {}: {}", divergence->position,
                         fmt::join(divergence->reasons, "; ")));
    }
    return s;
}

}  // namespace gguf::crossval
