#include "crossval_output.hpp"

#include <fmt/format.h>

#include "reference/reference.hpp"

namespace cli {

void add_reference_options(CLI::App& app, std::string& cpp_dir, double& timeout_s) {
    app.add_option("--cpp-dir", cpp_dir,
                   "A llama.cpp-family build (llama.cpp or bitnet.cpp: headers and shared libraries) to use as the "
                   "reference; default: $CROSSVAL_CPP_DIR, $BITNET_CPP_DIR, then the pinned reference");
    app.add_option("--cpp-timeout", timeout_s, "Seconds each reference stage may take")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
}

void add_logits_options(CLI::App& app, gguf::crossval::LogitsOptions& logits, std::string& against) {
    app.add_flag("--logits", logits.enabled,
                 "Add the logits stage: the reference decodes --tokens (one thread) and every logit must be finite");
    app.add_option("--tokens", logits.tokens,
                   "Comma-separated token ids to decode (default: BOS and the byte tokens of \"Hi!\")");
    app.add_option("--against", against,
                   "Compare the logits with a second source: a logits file (JSON or GLOG, docs/logits-format.md) "
                   "or a directory holding another llama.cpp-family build");
    app.add_option("--logits-out", logits.save,
                   "Write the reference's logits to this file (GLOG binary if it ends in .bin, else JSON)");
    app.add_option("--max-abs", logits.thresholds.max_abs, "Largest allowed |reference - other| per logit")
        ->capture_default_str();
    app.add_option("--min-cosine", logits.thresholds.min_cosine, "Smallest allowed cosine similarity per position")
        ->capture_default_str();
    app.add_option("--max-kl", logits.thresholds.max_kl, "Largest allowed KL(reference || other) per position, nats")
        ->capture_default_str();
    app.add_option("--min-top5", logits.thresholds.min_top5_overlap,
                   "Smallest allowed overlap of the top-5 token sets (0 = not checked)")
        ->capture_default_str();
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

std::string check_against(const std::string& against, gguf::crossval::LogitsOptions& logits) {
    if (against.empty()) return {};
    if (!logits.enabled) return "--against needs --logits";
    if (std::filesystem::is_directory(against)) {
        auto located = gguf::reference::locate(std::filesystem::path(against));
        if (!located.ref) return "--against " + against + ": " + located.error;
    } else if (auto l = gguf::crossval::read_logits_file(against); !l) {
        return "--against " + against + ": " + l.error().message;
    }
    logits.against = against;
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
    return fmt::format("{} {} [{}]{}", word, r.model, verdict_name(r.verdict),
                       why.empty() ? "" : fmt::format(" ({})", fmt::join(why, "; ")));
}

int finish_report(const gguf::crossval::Report& report, const std::string& path) {
    const auto json = gguf::crossval::to_json(report);
    if (auto s = gguf::crossval::write_json_atomically(path, json); !s) {
        fmt::print(stderr, "error: {}\n", s.error().message);
    }
    for (const auto& s : report.stages) {
        fmt::print("  {:<10} {:<5} {:>9.1f} ms  {}{}\n", stage_name(s.id), s.ok ? "ok" : (s.xfail ? "xfail" : "FAIL"),
                   s.duration_ms, failure_name(s.failure), s.message.empty() ? "" : ": " + s.message.substr(0, 200));
    }
    for (const auto& m : report.comparison.mismatches) {
        fmt::print("  mismatch {}: ours {} reference {}\n", m.path.render(), m.ours.dump(), m.reference.dump());
    }
    for (const auto& f : report.findings) fmt::print("  finding: {}\n", f);
    for (const auto& n : report.notes) fmt::print("  note: {}\n", n.text);
    fmt::print("{}\nreport: {}\n", verdict_line(report), path);
    return report.exit_code;
}

}  // namespace cli
