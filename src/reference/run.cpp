// Running the probe and turning what happened into a StageOutcome.
#include <fmt/format.h>
#include <optional>

#include "child.hpp"
#include "util/json_depth.hpp"

namespace gguf::reference {
namespace {

constexpr std::size_t kExcerptLines = 25;
constexpr std::size_t kExcerptBytes = 4096;
// The probe's PATH (see run_probe): no debugger, nor any other program, can be found through it.
constexpr std::string_view kProbePath = "/nonexistent/gguf-crossval-probe-runs-no-program";

}  // namespace

// The last lines of a log, at most kExcerptLines / kExcerptBytes.
std::string log_tail(std::string_view text) {
    while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    std::size_t start = text.size();
    for (std::size_t lines = 0; start > 0;) {
        const auto nl = text.rfind('\n', start - 1);
        if (nl == std::string_view::npos) {
            start = 0;
            break;
        }
        if (++lines == kExcerptLines) {
            start = nl + 1;
            break;
        }
        start = nl;
    }
    auto out = text.substr(start);
    if (out.size() > kExcerptBytes) out = out.substr(out.size() - kExcerptBytes);
    return std::string(out);
}

ProcessResult run_child(std::filesystem::path program, std::vector<std::string> args,
                        std::vector<std::pair<std::string, std::string>> env, const RunOptions& options,
                        StageOutcome& o) {
    ProcessSpec spec;
    spec.program = std::move(program);
    spec.args = std::move(args);
    spec.env = std::move(env);
    spec.timeout = options.timeout;
    spec.stdout_cap = options.stdout_cap;
    spec.stderr_cap = options.stderr_cap;
    auto r = run_process(spec);
    o.duration_ms = r.duration_ms;
    o.signal = r.signal;
    o.timed_out = r.timed_out;
    o.exit_code = r.exit_code;
    o.log_excerpt = log_tail(r.err);
    return r;
}

void read_probe_answer(const std::string& mode, int exit_code, std::string_view out, std::string_view err,
                       StageOutcome& o) {
    o.payload = util::json_depth_within(out) ? nlohmann::json::parse(out, nullptr, false)
                                             : nlohmann::json(nlohmann::json::value_t::discarded);
    if (o.payload.is_discarded() || !o.payload.is_object() || !o.payload.contains("ok")) {
        o.payload = nullptr;
        o.failure = FailureClass::other;
        o.message = fmt::format("ref-probe {} exited with {} and printed no JSON object", mode, exit_code);
        return;
    }
    // The probe may be a user's own build (--cpp-dir): every field is checked for its type before use.
    const auto text_field = [&](const char* key, std::string fallback) -> std::optional<std::string> {
        const auto it = o.payload.find(key);
        if (it == o.payload.end() || it->is_null()) return fallback;
        if (!it->is_string()) return std::nullopt;
        return it->get<std::string>();
    };
    const auto log = text_field("log", "");
    const auto error_text = text_field("error", "failed");
    if (!o.payload["ok"].is_boolean() || !log || !error_text) {
        o.payload = nullptr;
        o.failure = FailureClass::other;
        o.message = fmt::format(
            "ref-probe {} printed a JSON object whose \"ok\", \"log\" or \"error\" has the "
            "wrong type",
            mode);
        return;
    }
    if (o.log_excerpt.empty()) o.log_excerpt = log_tail(*log);
    if (o.payload["ok"].get<bool>()) {
        o.ok = true;
        return;
    }
    // A failure always has a reason to show, even when the probe gave an empty one.
    const std::string error =
        error_text->empty() ? fmt::format("ref-probe {} failed and gave no reason", mode) : *error_text;
    // stderr holds the log too (echoed) plus what ggml prints with fprintf (NaN checks, asserts).
    const auto why = classify_text(*log + "\n" + std::string(err) + "\n" + error);
    o.failure = why.failure;
    o.message = why.line.empty() ? error : fmt::format("{}: {}", error, why.line);
}

StageOutcome run_probe(const Reference& ref, const std::vector<std::string>& args, const RunOptions& options) {
    StageOutcome o;
    // MODE --libdir LIB_DIR ARGS...: the options go before any "--" that ARGS may hold.
    auto probe_args = args;
    probe_args.insert(probe_args.begin() + (args.empty() ? 0 : 1), {"--libdir", ref.lib_dir.string()});
    // ggml's abort handler forks a debugger found on PATH to print a backtrace: about 0.4 s per crash with gdb
    // installed, and forks that bitnet.cpp's older ggml does not let GGML_NO_BACKTRACE switch off. The probe runs
    // no program itself, so its PATH names a directory that does not exist.
    const auto r = run_child(ref.probe, std::move(probe_args),
                             {{"PATH", std::string(kProbePath)},
                              {"GGML_NO_BACKTRACE", "1"},
                              {"OMP_NUM_THREADS", "1"},
                              {"OPENBLAS_NUM_THREADS", "1"},
                              {"LLAMA_ARG_THREADS", "1"}},
                             options, o);
    const auto mode = args.empty() ? std::string("?") : args.front();

    if (!r.started) {
        o.failure = FailureClass::reference_unavailable;
        o.message = fmt::format("the reference probe did not start: {}", r.spawn_error);
        return o;
    }
    if (r.timed_out) {
        o.failure = FailureClass::timeout;
        o.message = fmt::format("{} ({} {}) did not finish within {} ms and was killed", ref.name, "ref-probe", mode,
                                options.timeout.count());
        return o;
    }
    if (r.stdout_overflow) {
        o.failure = FailureClass::other;
        o.message = fmt::format("ref-probe {} printed more than {} bytes and was killed", mode, options.stdout_cap);
        return o;
    }
    if (r.signal) {
        const auto why = classify_text(r.err);
        o.failure = FailureClass::abort_or_signal;
        o.message = fmt::format("{} died of {} (ref-probe {}){}", ref.name, signal_name(*r.signal), mode,
                                why.line.empty() ? "" : ": " + why.line);
        return o;
    }
    read_probe_answer(mode, r.exit_code, r.out, r.err, o);
    return o;
}

StageOutcome run_header(const Reference& ref, const std::filesystem::path& model, const RunOptions& options) {
    return run_probe(ref, {"header", "--", model.string()}, options);
}

StageOutcome run_load(const Reference& ref, const std::filesystem::path& model, const RunOptions& options,
                      bool vocab_only) {
    if (vocab_only) return run_probe(ref, {"load", "--vocab-only", "1", "--", model.string()}, options);
    return run_probe(ref, {"load", "--", model.string()}, options);
}

StageOutcome run_logits(const Reference& ref, const std::filesystem::path& model, const std::string& tokens,
                        const RunOptions& options, bool bos_first, const std::optional<std::filesystem::path>& output) {
    std::vector<std::string> args{"logits"};
    if (!tokens.empty()) args.insert(args.end(), {"--tokens", tokens});
    if (output) args.insert(args.end(), {"--output", output->string()});
    if (bos_first) args.insert(args.end(), {"--bos-first", "yes"});
    args.insert(args.end(), {"--", model.string()});
    return run_probe(ref, args, options);
}

}  // namespace gguf::reference
