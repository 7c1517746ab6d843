#include "crossval_output.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>

#include "command.hpp"
#include "crossval/kld_base.hpp"
#include "crossval/logits_stage.hpp"
#include "crossval/vocabulary.hpp"
#include "describe/description.hpp"
#include "fixtures/fixture_set.hpp"
#include "reference/reference.hpp"

namespace cli {

const CLI::Validator& timeout_seconds() {
    // Finite, positive and at most a day: NaN, 1e16 or -1 would become a nonsense deadline in
    // milliseconds (NaN passes CLI::PositiveNumber).
    static const CLI::Validator v(
        [](std::string& text) -> std::string {
            double s = 0;
            std::size_t used = 0;
            try {
                s = std::stod(text, &used);
            } catch (const std::exception&) {
                return "'" + text + "' is not a number of seconds";
            }
            if (used != text.size() || !std::isfinite(s) || s <= 0 || s > 86400) {
                return "'" + text + "' is not a number of seconds in (0, 86400]";
            }
            return {};
        },
        "SECONDS in (0, 86400]");
    return v;
}

void add_reference_options(CLI::App& app, std::string& cpp_dir, double& timeout_s) {
    app.add_option("--cpp-dir", cpp_dir,
                   "A llama.cpp-family build (llama.cpp or bitnet.cpp: headers and shared libraries) to use as the "
                   "reference; default: $CROSSVAL_CPP_DIR, $BITNET_CPP_DIR, then the pinned reference");
    app.add_option("--cpp-timeout", timeout_s, "Seconds each reference stage may take")
        ->check(timeout_seconds())
        ->capture_default_str();
}

void add_logits_options(CLI::App& app, gguf::crossval::LogitsOptions& logits, std::string& against) {
    app.add_flag("--logits", logits.enabled,
                 "Add the logits stage: the reference decodes --tokens (one thread) and every logit must be finite");
    app.add_option("--tokens", logits.tokens,
                   "Comma-separated token ids to decode (default: BOS and the byte tokens of \"Hi!\")");
    app.add_option("--against", against,
                   "Compare the logits with a second source: a logits file (JSON or GLOG, docs/logits-format.md), "
                   "llama.cpp's KL-divergence base file (llama-perplexity --kl-divergence-base: the reference decodes "
                   "its tokens chunk by chunk and is scored as llama-perplexity --kl-divergence does), "
                   "a directory holding another llama.cpp-family build, or 'builtin': the built-in forward pass "
                   "(llama and bitnet; thresholds per weight type unless given, docs/forward-pass.md)");
    app.add_option("--builtin-activations", logits.builtin_activations,
                   "Against builtin: 'exact' f32 activations, or 'llama-cpp-cpu': rounded before each product "
                   "with a weight as llama.cpp's CPU backend rounds them for the weight's type, which isolates an "
                   "implementation's departures from that rounding (docs/forward-pass.md)")
        ->transform(CLI::CheckedTransformer(
            std::map<std::string, gguf::forward::Activations>{
                {"exact", gguf::forward::Activations::exact},
                {"llama-cpp-cpu", gguf::forward::Activations::like_llama_cpp_cpu}},
            CLI::ignore_case))
        ->capture_default_str();
    app.add_option("--logits-out", logits.save,
                   "Write the reference's logits to this file (GLOG binary if it ends in .bin, else JSON)");
    const auto given = [&logits](const std::string&) { logits.thresholds_given = true; };
    app.add_option("--max-abs", logits.thresholds.max_abs, "Largest allowed |reference - other| per logit")
        ->capture_default_str()
        ->each(given);
    app.add_option("--min-cosine", logits.thresholds.min_cosine, "Smallest allowed cosine similarity per position")
        ->capture_default_str()
        ->each(given);
    app.add_option("--max-kl", logits.thresholds.max_kl, "Largest allowed KL(reference || other) per position, nats")
        ->capture_default_str()
        ->each(given);
    app.add_flag("!--no-top1", logits.thresholds.require_top1, "Do not check top-1 agreement (it is still reported)");
    app.add_option("--top1-tie", logits.thresholds.top1_tie,
                   "A top-1 disagreement where the reference's logits of the two tokens differ by at most this "
                   "much is a near-tie, not a mismatch (negative: every disagreement is a mismatch)")
        ->capture_default_str();
    app.add_option("--min-top5", logits.thresholds.min_top5_overlap,
                   "Smallest allowed overlap of the top-5 token sets (0 = not checked)")
        ->capture_default_str()
        ->each(given);
}

void add_expect_options(CLI::App& app, ExpectOptions& options) {
    app.add_option("--expect", options.files,
                   "An expectations file (docs/expectations.md): per model and stage, the declared outcome and "
                   "failure class. A matching failure is XFAIL, any other failure fails; repeatable");
    app.add_flag("--strict", options.strict,
                 "An XPASS (a stage that passes though an expectation declares it fails) fails the run (exit 4)");
}

std::string load_expectations(const ExpectOptions& options, gguf::crossval::Expectations& out) {
    for (const auto& f : options.files) {
        auto e = gguf::crossval::Expectations::read(f);
        if (!e) return "--expect " + e.error().message;
        out.append(*e);
    }
    return {};
}

std::string readable_model(const std::string& model) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const auto st = fs::status(model, ec);
    const auto shown = gguf::describe::render_string(model);
    if (ec) return fmt::format("cannot read '{}': {}", shown, ec.message());
    if (!fs::is_regular_file(st)) return fmt::format("'{}' is not a regular file", shown);
    if (::access(model.c_str(), R_OK) != 0) return fmt::format("cannot read '{}': {}", shown, std::strerror(errno));
    return {};
}

std::string check_tokens(const CLI::App& app, gguf::crossval::LogitsOptions& logits, const std::string& model) {
    if (app.count("--tokens") == 0) return {};
    if (!logits.enabled) return "--tokens needs --logits";
    std::vector<std::uint64_t> ids;
    std::string_view rest = logits.tokens;
    if (rest.empty())
        return "--tokens is empty: give comma-separated token ids, or leave the flag out for the defaults";
    while (true) {
        const auto comma = rest.find(',');
        auto item = rest.substr(0, comma);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        const auto id = gguf::fixtures::parse_seed(item);  // the same rule: decimal digits, 64 bits
        if (!id || *id > INT32_MAX) {
            return fmt::format("--tokens: '{}' is not a token id (a decimal number below 2^31)",
                               gguf::describe::render_string(item));
        }
        ids.push_back(*id);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    if (auto file = gguf::open(model)) {  // a file our reader rejects fails in its own stage
        if (const auto n = gguf::crossval::our_vocab_size(*file)) {
            for (const auto id : ids) {
                if (id >= *n) return fmt::format("--tokens: token id {} is beyond the vocabulary ({} tokens)", id, *n);
            }
        }
    }
    logits.tokens = fmt::format("{}", fmt::join(ids, ","));
    return {};
}

std::string check_against(const std::string& against, gguf::crossval::LogitsOptions& logits) {
    if (against.empty()) return {};
    if (!logits.enabled) return "--against needs --logits";
    auto source = gguf::crossval::AgainstSource::from_argument(against);
    source.activations = logits.builtin_activations;
    if (source.kind == gguf::crossval::AgainstSource::Kind::reference) {
        auto located = gguf::reference::locate(source.path);
        if (!located.ref) return "--against " + against + ": " + located.error;
    } else if (source.kind == gguf::crossval::AgainstSource::Kind::file) {
        if (auto ok = gguf::crossval::check_logits_file(source.path); !ok)
            return "--against " + against + ": " + ok.error().message;
    } else if (source.kind == gguf::crossval::AgainstSource::Kind::kld_base) {
        if (auto r = gguf::crossval::KldBaseReader::open(source.path); !r)
            return "--against " + against + ": " + r.error().message;
        if (!logits.tokens.empty())
            return "--tokens with a KL-divergence base file: the file's own tokens are decoded; leave --tokens out";
    }
    logits.against = source;
    return {};
}

gguf::crossval::Options crossval_options(const std::string& model, const std::string& cpp_dir, double timeout_s) {
    gguf::crossval::Options o;
    o.model = model;
    if (!cpp_dir.empty()) o.cpp_dir = cpp_dir;
    o.timeout = std::chrono::milliseconds(static_cast<long long>(timeout_s * 1000));
    gguf::crossval::apply_environment(o);
    return o;
}

std::string verdict_line(const gguf::crossval::Report& r) {
    std::vector<std::string> why;
    for (const auto& s : r.stages) {
        if (!s.ok) why.push_back(fmt::format("{}: {}", stage_name(s.id), failure_name(s.failure)));
    }
    if (!r.comparison.equal) why.push_back(fmt::format("{} mismatches", r.comparison.mismatches.size()));
    const char* word = r.exit_code != 0 ? "FAIL " : (r.xpass() ? "XPASS" : (r.xfail() ? "XFAIL" : "PASS "));
    return fmt::format("{} {} [{}]{}", word, safe(r.model), verdict_name(r.verdict),
                       why.empty() ? "" : fmt::format(" ({})", fmt::join(why, "; ")));
}

int usage_report(const std::string& model, const std::string& report_path, const std::string& why) {
    fmt::print(stderr, "error: {}\n", safe(why));
    gguf::crossval::Report r;
    r.model = gguf::describe::render_string(model);
    r.timestamp = gguf::crossval::utc_timestamp();
    r.platform = gguf::crossval::platform_name();
    r.verdict = gguf::crossval::Verdict::usage_error;
    r.exit_code = kUsage;
    r.notes.push_back({gguf::crossval::NoteKind::usage_error, gguf::describe::render_string(why)});
    for (auto id :
         {gguf::crossval::StageId::reader, gguf::crossval::StageId::cpp_header, gguf::crossval::StageId::cpp_full}) {
        gguf::crossval::Stage s;
        s.id = id;
        s.failure = gguf::crossval::CheckFailure::usage_error;
        s.message = "not run: " + gguf::describe::render_string(why);
        r.stages.push_back(std::move(s));
    }
    if (auto s = gguf::crossval::write_json_atomically(report_path, gguf::crossval::to_json(r)); !s) {
        fmt::print(stderr, "error: {}\n", s.error().message);
    }
    return kUsage;
}

int finish_report(const gguf::crossval::Report& report, const std::string& path) {
    const auto json = gguf::crossval::to_json(report);
    bool written = true;
    if (auto s = gguf::crossval::write_json_atomically(path, json); !s) {
        fmt::print(stderr, "error: {}\n", s.error().message);
        written = false;
    }
    for (const auto& s : report.stages) {
        const std::string failure = failure_name(s.failure);
        const std::string message = s.message.empty() ? "" : safe(s.message.substr(0, 200));
        fmt::print("  {:<10} {:<5} {:>9.1f} ms  {}{}{}\n", stage_name(s.id), s.ok ? "ok" : (s.xfail ? "xfail" : "FAIL"),
                   s.duration_ms, failure, failure.empty() || message.empty() ? "" : ": ", message);
    }
    for (const auto& m : report.comparison.mismatches) {
        fmt::print("  mismatch {}: ours {} reference {}\n", safe(m.path.render()), safe(m.ours.dump()),
                   safe(m.reference.dump()));
    }
    if (const auto* logits = report.stage(gguf::crossval::StageId::logits)) {
        const auto text = gguf::crossval::distribution_text(logits->details);
        for (std::size_t at = 0; at < text.size();) {  // line by line: safe() would escape the newlines
            const auto end = std::min(text.find('\n', at), text.size());
            fmt::print("{}\n", safe(text.substr(at, end - at)));
            at = end + 1;
        }
    }
    for (const auto& f : report.findings) fmt::print("  finding: {}\n", safe(f));
    for (const auto& n : report.notes) fmt::print("  note: {}\n", safe(n.text));
    if (const auto* logits = report.stage(gguf::crossval::StageId::logits);
        logits && logits->details.contains("save_failed")) {
        written = false;  // --logits-out could not be written (the stage says why)
    }
    fmt::print("{}\nreport: {}\n", verdict_line(report), written ? safe(path) : "not written");
    return written ? report.exit_code : int{kWriteFailed};
}

}  // namespace cli
