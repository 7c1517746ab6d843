#include "logits_stage.hpp"

#include <fmt/format.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "builtin_source.hpp"
#include "describe/description.hpp"
#include "distribution.hpp"
#include "kld_base.hpp"
#include "util/cleanup.hpp"

namespace gguf::crossval {
namespace {

nlohmann::json number(double v) {
    return describe::render_float(v);
}

nlohmann::json thresholds_json(const Thresholds& t) {
    return {{"max_abs", t.max_abs},           {"min_cosine", t.min_cosine}, {"max_kl", t.max_kl},
            {"require_top1", t.require_top1}, {"top1_tie", t.top1_tie},     {"min_top5_overlap", t.min_top5_overlap}};
}

// The reference's logits of one run: the probe's temporary GLOG file (removed with this object, and on
// a signal), read again one row at a time by each pass that needs them, so that a long run is never a
// matrix in our memory.
class ReferenceLogits {
public:
    ReferenceLogits() : path_(temporary_path()), guard_(std::make_unique<util::TempFileGuard>(path_)) {}

    const std::filesystem::path& path() const { return path_; }
    void created() { guard_->created(); }  // the probe wrote the file: remove it from now on
    LogitsShape shape() const { return {n_vocab, n_positions, tokens}; }
    LogitsResult<LogitsRowReader> rows() const { return LogitsRowReader::open(path_); }

    std::uint32_t n_vocab = 0;
    std::size_t n_positions = 0;
    std::vector<std::int32_t> tokens;

private:
    static std::filesystem::path temporary_path() {
        static std::atomic<int> counter{0};
        return std::filesystem::temp_directory_path() /
               fmt::format("gguf-crossval-logits-{}-{}.bin", ::getpid(), counter++);
    }

    std::filesystem::path path_;
    std::unique_ptr<util::TempFileGuard> guard_;
};

// The rows of a row reader, in order, one held in `buffer`.
RowSource row_source(LogitsRowReader& reader, std::vector<float>& buffer) {
    return [&reader, &buffer](std::size_t) -> LogitsResult<std::span<const float>> {
        if (auto r = reader.read_row(buffer); !r) return r.error();
        return std::span<const float>(buffer);
    };
}

// What the reference's own logits look like, position by position.
LogitsResult<nlohmann::json> position_summary(const ReferenceLogits& l) {
    auto reader = l.rows();
    if (!reader) return reader.error();
    std::vector<float> row;
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t p = 0; p < l.n_positions; ++p) {
        if (auto r = reader->read_row(row); !r) return r.error();
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
            {"top5_overlap", m.top5_overlap},   {"top1_match", m.top1_match}, {"top1_gap", number(m.top1_gap)},
            {"ref_top1", m.ref_top1},           {"test_top1", m.test_top1}};
}

nlohmann::json percentiles_json(const Percentiles& p) {
    return {{"min", number(p.min)}, {"p0.1", number(p.p0_1)}, {"p1", number(p.p1)},         {"p5", number(p.p5)},
            {"p10", number(p.p10)}, {"p25", number(p.p25)},   {"median", number(p.median)}, {"p75", number(p.p75)},
            {"p90", number(p.p90)}, {"p95", number(p.p95)},   {"p99", number(p.p99)},       {"p99.9", number(p.p99_9)},
            {"max", number(p.max)}};
}

// The statistics over every position, as the report carries them (schema: $defs/distribution).
nlohmann::json distribution_json(const DistributionStats& s, double top1_tie) {
    nlohmann::json j = {
        {"n_positions", s.n_positions},
        {"n_scored", s.n_scored},
        {"kld",
         {{"mean", number(s.mean_kld)},
          {"uncertainty", number(s.mean_kld_uncertainty)},
          {"percentiles", percentiles_json(s.kld)}}},
        {"same_top", {{"count", s.n_same_top}, {"p", number(s.same_top_p)}}},
        {"top1",
         {{"tie_tolerance", number(top1_tie)}, {"mismatches", s.n_top1_mismatch}, {"near_ties", s.n_top1_near_tie}}},
        {"delta_p", nullptr},
        {"ppl", nullptr},
        {"nmse", s.nmse ? number(*s.nmse) : nlohmann::json(nullptr)},
    };
    if (s.n_scored > 0) {
        j["delta_p"] = {{"mean", number(s.mean_delta_p)},
                        {"rms", number(s.rms_delta_p)},
                        {"percentiles", percentiles_json(s.delta_p)}};
        j["ppl"] = {{"ref", number(s.ppl_ref)}, {"test", number(s.ppl_test)}, {"ln_ratio", number(s.ln_ppl_ratio)}};
    }
    return j;
}

// The reference's logits of `tokens`: the probe writes them to a temporary GLOG file, whose header is
// checked here; its JSON answer (in `o`) carries the tokens, which must be one id per position.
LogitsResult<ReferenceLogits> reference_logits(const reference::Reference& ref, const std::filesystem::path& model,
                                               const std::string& tokens, const reference::RunOptions& run,
                                               bool bos_first, reference::StageOutcome& o) {
    ReferenceLogits l;
    o = reference::run_logits(ref, model, tokens, run, bos_first, l.path());
    if (std::filesystem::exists(l.path())) l.created();
    if (!o.ok) return LogitsError{LogitsCode::io_error, 0, o.message};
    auto reader = l.rows();
    if (!reader) return reader.error();
    l.n_vocab = reader->n_vocab();
    l.n_positions = reader->n_positions();
    const auto it = o.payload.find("tokens");
    if (it == o.payload.end() || !it->is_array() || it->size() != l.n_positions) {
        return LogitsError{LogitsCode::bad_json, 0,
                           fmt::format("the probe's \"tokens\" must be one token id per position ({})", l.n_positions)};
    }
    for (const auto& t : *it) {
        if (!t.is_number_integer() || t.get<std::int64_t>() < 0 || t.get<std::int64_t>() > 0x7FFFFFFF) {
            return LogitsError{LogitsCode::bad_json, 0, "the probe's \"tokens\" holds something not a token id"};
        }
        l.tokens.push_back(static_cast<std::int32_t>(t.get<std::int64_t>()));
    }
    return l;
}

void fail(Stage& s, Failure failure, std::string message) {
    s.ok = false;
    s.failure = failure;
    s.message = std::move(message);
}

// The reference's logits file could not be read back (it was written by the probe, checked, and is
// ours to read: a failure of class other, not a divergence).
Stage unreadable(Stage s, const LogitsError& e) {
    fail(s, reference::FailureClass::other, "the probe's logits could not be read: " + e.message);
    return s;
}

// The second source, read position by position: a logits file (either format) or another reference
// build's run one row at a time, the built-in forward pass from the matrix it computed.
class SecondSource {
public:
    explicit SecondSource(Logits held) : held_(std::move(held)) {}
    explicit SecondSource(LogitsRowReader rows) : rows_(std::move(rows)) {}
    SecondSource(ReferenceLogits run, LogitsRowReader rows) : run_(std::move(run)), rows_(std::move(rows)) {}

    LogitsShape shape() const {
        if (run_) return run_->shape();
        if (rows_) return rows_->shape();
        return shape_of(held_);
    }
    // Position p's row (positions in order): a view of the held matrix or of `buffer`.
    LogitsResult<std::span<const float>> row(std::size_t p, std::vector<float>& buffer) {
        if (!rows_) return held_.row(p);
        if (auto r = rows_->read_row(buffer); !r) return r.error();
        return std::span<const float>(buffer);
    }

private:
    Logits held_;
    std::optional<ReferenceLogits> run_;  // keeps the other reference's temporary file
    std::optional<LogitsRowReader> rows_;
};

LogitsResult<SecondSource> held(LogitsResult<Logits> l) {
    if (!l) return l.error();
    return SecondSource(std::move(*l));
}

// The second source: a file, another reference build decoding the same tokens, or the built-in
// forward pass decoding the tokens the reference decoded.
LogitsResult<SecondSource> against_logits(const AgainstSource& source, const std::filesystem::path& model,
                                          std::span<const std::int32_t> ref_tokens, const std::string& tokens,
                                          const reference::RunOptions& run, nlohmann::json& about) {
    switch (source.kind) {
        case AgainstSource::Kind::file: {
            about = {{"source", source.path.string()}, {"kind", "file"}};
            auto rows = LogitsRowReader::open(source.path);
            if (!rows) return rows.error();
            return SecondSource(std::move(*rows));
        }
        case AgainstSource::Kind::builtin:
            about = {{"source", "builtin"},
                     {"kind", "builtin"},
                     {"name", "gguf-crossval forward pass"},
                     {"activations", forward::activations_name(source.activations)}};
            return held(builtin_logits(model, ref_tokens, source.activations));
        case AgainstSource::Kind::reference:
        case AgainstSource::Kind::kld_base:  // scored by kld_base_stage()
            break;
    }
    const auto located = reference::locate(source.path);
    if (!located.ref) return LogitsError{LogitsCode::io_error, 0, located.error};
    about = {{"source", source.path.string()},
             {"kind", "reference"},
             {"name", located.ref->name},
             {"version", located.ref->version}};
    reference::StageOutcome o;
    auto l = reference_logits(*located.ref, model, tokens, run, false, o);
    if (!o.ok) return LogitsError{LogitsCode::io_error, 0, fmt::format("the second reference failed: {}", o.message)};
    if (!l) return l.error();
    auto rows = l->rows();
    if (!rows) return rows.error();
    return SecondSource(std::move(*l), std::move(*rows));
}

// The thresholds of this comparison: builtin_thresholds() against builtin unless some were given.
Thresholds thresholds_for(const LogitsOptions& options, const std::filesystem::path& model, nlohmann::json& details) {
    if (!options.against || options.against->kind != AgainstSource::Kind::builtin || options.thresholds_given) {
        return options.thresholds;
    }
    auto file = gguf::open(model);
    if (!file) return options.thresholds;
    std::string why;
    Thresholds t = builtin_thresholds(*file, why);
    // --no-top1 and --top1-tie apply to the per-type thresholds too
    if (!options.thresholds.require_top1) t.require_top1 = false;
    t.top1_tie = options.thresholds.top1_tie;
    details["thresholds"] = thresholds_json(t);
    details["thresholds_for"] = why;
    return t;
}

// The reference against a KL-divergence base file, as llama-perplexity --kl-divergence scores a run:
// chunk by chunk the reference decodes the chunk's tokens (the first replaced by BOS when its
// tokenizer adds one) and positions n_ctx/2 .. n_ctx-2 are scored against the file's log-probabilities
// (the file is the base, the reference the run under test). One chunk's logits are held at a time.
Stage kld_base_stage(const reference::Reference& ref, const std::filesystem::path& model, const LogitsOptions& options,
                     const reference::RunOptions& run) {
    Stage s;
    s.id = StageId::logits;
    s.ran = true;
    s.details["thresholds"] = thresholds_json(options.thresholds);
    auto reader = KldBaseReader::open(options.against->path);
    if (!reader) {
        fail(s, CheckFailure::against_unavailable, reader.error().message);
        return s;
    }
    s.details["against"] = {{"source", options.against->path.string()},
                            {"kind", "kld_base"},
                            {"n_ctx", reader->n_ctx()},
                            {"n_vocab", reader->n_vocab()},
                            {"n_chunk", reader->n_chunk()}};
    DistributionAccumulator acc(options.thresholds.top1_tie);
    std::vector<double> base;
    std::vector<float> row;
    for (std::uint32_t c = 0; c < reader->n_chunk(); ++c) {
        if (auto r = reader->read_next_chunk(); !r) {
            fail(s, CheckFailure::against_unavailable, r.error().message);
            return s;
        }
        const auto tokens = reader->chunk_tokens(c);
        reference::StageOutcome o;
        auto l = reference_logits(ref, model, fmt::format("{}", fmt::join(tokens, ",")), run, true, o);
        s.duration_ms += o.duration_ms;
        if (!o.ok) {
            s.failure = o.failure;
            s.message = fmt::format("chunk {} of {}: {}", c + 1, reader->n_chunk(), o.message);
            s.log_excerpt = o.log_excerpt;
            return s;
        }
        if (!l || l->n_vocab != reader->n_vocab() || l->n_positions != reader->n_ctx()) {
            fail(s, CheckFailure::logits_diverge,
                 l ? fmt::format("the reference's vocabulary has {} tokens, the base file's {}", l->n_vocab,
                                 reader->n_vocab())
                   : "the probe's logits could not be read: " + l.error().message);
            return s;
        }
        auto rows = l->rows();  // positions in order: those before the scored ones are read and passed over
        if (!rows) return unreadable(std::move(s), rows.error());
        for (std::size_t p = 0; p < reader->first(); ++p) {
            if (auto r = rows->read_row(row); !r) return unreadable(std::move(s), r.error());
        }
        for (std::uint32_t j = 0; j < reader->rows_per_chunk(); ++j) {
            const std::size_t p = reader->first() + j;
            reader->row_log_probs(j, base);
            if (auto r = rows->read_row(row); !r) return unreadable(std::move(s), r.error());
            const auto test = log_probabilities(row);
            acc.add(LogProbRow{base, -16}, LogProbRow{test}, static_cast<std::uint32_t>(tokens[p + 1]));
        }
    }
    const auto stats = acc.finish();
    s.ok = true;
    s.details["n_vocab"] = reader->n_vocab();
    s.details["n_positions"] = stats.n_positions;
    s.details["distribution"] = distribution_json(stats, options.thresholds.top1_tie);
    s.message = fmt::format("against kld_base: {} chunks of {}, mean KLD {:.6g}, same top p {:.3f}%, RMS dp {:.3f}%",
                            reader->n_chunk(), reader->n_ctx(), stats.mean_kld, 100 * stats.same_top_p,
                            100 * stats.rms_delta_p);
    return s;
}

}  // namespace

AgainstSource AgainstSource::from_argument(const std::string& text) {
    if (text == "builtin") return {Kind::builtin, {}};
    if (std::filesystem::is_directory(text)) return {Kind::reference, text};
    if (is_kld_base_file(text)) return {Kind::kld_base, text};
    return {Kind::file, text};
}

std::string distribution_text(const nlohmann::json& details) {
    const auto it = details.find("distribution");
    if (it == details.end() || !it->is_object()) return {};
    const auto& d = *it;
    const auto num = [](const nlohmann::json& v) {
        return v.is_number() ? fmt::format("{:.6g}", v.get<double>()) : v.is_string() ? v.get<std::string>() : "-";
    };
    const auto pct = [](const nlohmann::json& v) {
        return v.is_number() ? fmt::format("{:.3f}%", 100 * v.get<double>()) : std::string("-");
    };
    const auto& k = d["kld"]["percentiles"];
    std::string out = fmt::format("  distribution over {} positions ({} with a known next token)\n",
                                  d["n_positions"].get<std::size_t>(), d["n_scored"].get<std::size_t>());
    out += fmt::format("    KLD     mean {} +/- {}; median {}, 90% {}, 95% {}, 99% {}, 99.9% {}, max {}\n",
                       num(d["kld"]["mean"]), num(d["kld"]["uncertainty"]), num(k["median"]), num(k["p90"]),
                       num(k["p95"]), num(k["p99"]), num(k["p99.9"]), num(k["max"]));
    out += fmt::format("    same top p {} ({} of {}); top-1: {} mismatches, {} near-ties within {}\n",
                       pct(d["same_top"]["p"]), d["same_top"]["count"].get<std::size_t>(),
                       d["n_positions"].get<std::size_t>(), d["top1"]["mismatches"].get<std::size_t>(),
                       d["top1"]["near_ties"].get<std::size_t>(), num(d["top1"]["tie_tolerance"]));
    if (d["delta_p"].is_object()) {
        const auto& p = d["delta_p"]["percentiles"];
        out += fmt::format("    dp      mean {}, RMS {}; min {}, 1% {}, median {}, 99% {}, max {}\n",
                           pct(d["delta_p"]["mean"]), pct(d["delta_p"]["rms"]), pct(p["min"]), pct(p["p1"]),
                           pct(p["median"]), pct(p["p99"]), pct(p["max"]));
        out += fmt::format("    PPL     test {}, reference {}, ln(PPL(test)/PPL(reference)) {}\n",
                           num(d["ppl"]["test"]), num(d["ppl"]["ref"]), num(d["ppl"]["ln_ratio"]));
    }
    if (!d["nmse"].is_null()) out += fmt::format("    NMSE    {}\n", num(d["nmse"]));
    return out;
}

Stage logits_stage(const reference::Reference& ref, const std::filesystem::path& model, const LogitsOptions& options,
                   const reference::RunOptions& run) {
    if (options.against && options.against->kind == AgainstSource::Kind::kld_base)
        return kld_base_stage(ref, model, options, run);
    reference::StageOutcome o;
    auto ref_logits = reference_logits(ref, model, options.tokens, run, false, o);
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
    if (!ref_logits) return unreadable(std::move(s), ref_logits.error());
    const auto& l = *ref_logits;
    s.ok = true;
    s.details["tokens"] = l.tokens;
    s.details["n_vocab"] = l.n_vocab;
    s.details["n_positions"] = l.n_positions;
    s.details["kv"] = o.payload.value("kv", std::string());
    if (o.payload.contains("kv_note")) s.details["kv_note"] = o.payload["kv_note"];
    auto positions = position_summary(l);
    if (!positions) {
        return unreadable(std::move(s), positions.error());
    }
    s.details["positions"] = std::move(*positions);
    if (options.save) {
        const auto format = options.save->extension() == ".bin" ? LogitsFormat::binary : LogitsFormat::json;
        auto reader = l.rows();
        std::vector<float> row;
        auto w = reader ? write_logits_file(*options.save, l.shape(), row_source(*reader, row), format)
                        : LogitsResult<Ok>(reader.error());
        if (!w) {
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
    auto theirs = against_logits(*options.against, model, l.tokens, options.tokens, run, about);
    s.duration_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    s.details["against"] = about;
    if (!theirs) {
        fail(s, CheckFailure::against_unavailable, theirs.error().message);
        return s;
    }
    if (auto ok = check_comparable(l.shape(), theirs->shape()); !ok) {
        fail(s, CheckFailure::logits_diverge, "the two sources cannot be compared: " + ok.error().message);
        return s;
    }
    auto ref_rows = l.rows();
    if (!ref_rows) {
        return unreadable(std::move(s), ref_rows.error());
    }
    const Thresholds thresholds = thresholds_for(options, model, s.details);
    // Position by position: the metrics row, the first divergence and the distribution statistics are
    // accumulated as the rows of both sources arrive, so only one row of each is held.
    nlohmann::json rows = nlohmann::json::array();
    std::optional<Divergence> divergence;
    DistributionAccumulator acc(thresholds.top1_tie);
    double worst_abs = 0, worst_cos = 1, worst_kl = 0;
    std::vector<float> buffer, ref_row;
    for (std::size_t p = 0; p < l.n_positions; ++p) {
        if (auto r = ref_rows->read_row(ref_row); !r) {
            return unreadable(std::move(s), r.error());
        }
        const auto test = theirs->row(p, buffer);
        if (!test) {
            fail(s, CheckFailure::against_unavailable, test.error().message);
            return s;
        }
        const auto m = compare_rows(ref_row, *test, p);
        rows.push_back(metrics_json(m));
        if (!divergence) {
            if (auto why = failed_checks(m, thresholds); !why.empty()) divergence = Divergence{p, std::move(why)};
        }
        std::optional<std::uint32_t> correct;
        if (p + 1 < l.tokens.size() && l.tokens[p + 1] >= 0) correct = static_cast<std::uint32_t>(l.tokens[p + 1]);
        acc.add({log_probabilities(ref_row)}, {log_probabilities(*test)}, correct);
        acc.add_logits(ref_row, *test);
        worst_abs = std::max(worst_abs, m.max_abs_diff);
        worst_cos = std::min(worst_cos, m.cosine);
        worst_kl = std::max(worst_kl, m.kl);
    }
    s.details["metrics"] = std::move(rows);
    const auto stats = acc.finish();
    s.details["distribution"] = distribution_json(stats, thresholds.top1_tie);
    // One line for the terminal: the worst figures over the positions.
    s.message = fmt::format("against {}: max_abs_diff {:.3g}, min cosine {:.9f}, max KL {:.3g}, mean KLD {:.3g}{}",
                            about.value("kind", "?"), worst_abs, worst_cos, worst_kl, stats.mean_kld,
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
