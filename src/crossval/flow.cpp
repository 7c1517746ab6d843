// The cross-validation flow and its verdict.
#include "flow.hpp"

#include "dequant_stage.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <fmt/format.h>

#include "gguf/data/hash.hpp"
#include "reference/reference.hpp"

namespace gguf::crossval {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Our warnings that say llama.cpp will reject a file we accept. When the reference rejects such a
// file, the disagreement was predicted and explained: it is a known reference limitation.
bool predicts_reference_rejection(Code code) {
    return code == Code::array_of_arrays || code == Code::dims_over_ggml_max || code == Code::tensor_name_at_limit ||
           code == Code::offsets_not_contiguous || code == Code::bitnet_i2_s;
}

// Failure classes that mean the reference could not give an answer, as opposed to rejecting the file.
bool is_reference_malfunction(const std::string& failure_class) {
    return failure_class == "reference_unavailable" || failure_class == "timeout" ||
           failure_class == "abort_or_signal" || failure_class == "other";
}

Stage stage_from(std::string name, const reference::StageOutcome& o) {
    Stage s;
    s.name = std::move(name);
    s.ran = true;
    s.ok = o.ok;
    s.duration_ms = o.duration_ms;
    if (!o.ok) s.failure_class = std::string(reference::failure_class_name(o.failure));
    s.message = o.message;
    if (!o.ok) s.log_excerpt = o.log_excerpt;  // a passing stage's log adds nothing and varies run to run
    if (o.signal) s.details["signal"] = *o.signal;
    if (o.timed_out) s.details["timed_out"] = true;
    return s;
}

Stage unavailable(std::string name, const std::string& why) {
    Stage s;
    s.name = std::move(name);
    s.ran = true;  // it was attempted: the reference is missing, which is a failure, never a pass
    s.failure_class = std::string(reference::failure_class_name(reference::FailureClass::reference_unavailable));
    s.message = why;
    return s;
}

// The vocabulary size our reader sees: the token list's length, else <arch>.vocab_size.
std::optional<std::uint64_t> our_vocab_size(const File& file) {
    if (const auto* tokens = file.find("tokenizer.ggml.tokens"); tokens && tokens->value.type() == ValueType::array) {
        return tokens->value.as_array().size();
    }
    if (const auto* arch = file.find("general.architecture"); arch && arch->value.type() == ValueType::string) {
        if (const auto* v = file.find(std::string(arch->value.as_string()) + ".vocab_size")) return v->value.as_uint();
    }
    return std::nullopt;
}

void alter_for_test(describe::Description& ours, const std::string& key, Report& r) {
    for (auto& kv : ours.kv) {
        if (kv.key != key) continue;
        kv.value = "altered by CROSSVAL_TEST_ALTER_OURS";
        kv.digest ^= 1;
        r.notes.push_back(fmt::format("test hook CROSSVAL_TEST_ALTER_OURS altered our value of '{}'", key));
        return;
    }
    r.notes.push_back(fmt::format("test hook CROSSVAL_TEST_ALTER_OURS: no key '{}' to alter", key));
}

void decide(Report& r, const File* file, bool allow) {
    const Stage* reader = r.stage("reader");
    const Stage* header = r.stage("cpp_header");
    const bool header_rejects = header && !header->ok && !is_reference_malfunction(header->failure_class);
    bool disagree = r.compared && !r.comparison.equal;

    if (!reader->ok) {
        if (header && header->ok) {
            r.findings.push_back(fmt::format("the reference accepts this file; our reader rejects it: [{}] {}",
                                             reader->failure_class, reader->message));
        } else if (header_rejects) {
            r.notes.push_back(fmt::format("both readers reject this file (ours: {}; reference: {})",
                                          reader->failure_class, header->failure_class));
        }
    } else if (header_rejects) {
        std::vector<std::string> predicted;
        for (const auto& w : file->warnings()) {
            if (predicts_reference_rejection(w.code)) predicted.emplace_back(code_name(w.code));
        }
        if (predicted.empty()) {
            disagree = true;
            r.findings.push_back(fmt::format("our reader accepts this file; the reference rejects it: [{}] {}",
                                             header->failure_class, header->message));
        } else {
            r.notes.push_back(fmt::format("the reference rejects this file, as our portability warning(s) {} predict",
                                          fmt::join(predicted, ", ")));
        }
    }

    if (const Stage* dq = r.stage("dequant"); dq && dq->failure_class == "dequant_differs") {
        disagree = true;
        r.findings.push_back("our dequantization differs from ggml's: " + dq->message);
    }
    if (const Stage* logits = r.stage("logits"); logits && logits->failure_class == "logits_diverge") {
        disagree = true;
        r.findings.push_back("the logits of the second source diverge from the reference's: " + logits->message);
    }

    bool reference_failed = false;
    for (auto& s : r.stages) {
        if (s.name == "reader" || s.ok || s.failure_class == "logits_diverge" || s.failure_class == "dequant_differs") continue;
        reference_failed = true;
        s.xfail = allow;
    }

    if (!reader->ok) {
        r.verdict = "reader_rejected";
        r.exit_code = kReaderRejected;
    } else if (disagree) {
        r.verdict = "readers_disagree";
        r.exit_code = kDisagree;
    } else if (reference_failed) {
        r.verdict = allow ? "pass_xfail" : "reference_failed";
        r.exit_code = allow ? kPass : kReferenceFailed;
    } else {
        r.verdict = "pass";
        r.exit_code = kPass;
    }
}

}  // namespace

bool env_flag(const char* name) {
    const char* v = std::getenv(name);
    if (v == nullptr) return false;
    std::string s(v);
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s == "1" || s == "true" || s == "yes";
}

void apply_environment(Options& options) {
    options.allow_cpp_fail = env_flag("CROSSVAL_ALLOW_CPP_FAIL");
    if (const char* key = std::getenv("CROSSVAL_TEST_ALTER_OURS"); key != nullptr && *key != '\0') {
        options.alter_ours_key = key;
    }
}

Report run(const Options& o) {
    Report r;
    r.model = describe::render_string(o.model.string());  // paths need not be UTF-8; JSON must be
    r.timestamp = utc_timestamp();
    r.platform = platform_name();
    r.allow_cpp_fail = o.allow_cpp_fail;
    std::error_code ec;
    if (auto size = std::filesystem::file_size(o.model, ec); !ec) r.file_size = size;

    // 1. Our reader: required.
    Stage reader{.name = "reader", .ran = true};
    auto start = Clock::now();
    auto file = gguf::open(o.model);
    reader.duration_ms = ms_since(start);
    std::optional<describe::Description> ours;
    if (file) {
        reader.ok = true;
        r.gguf_version = file->version();
        r.n_kv = file->kvs().size();
        r.n_tensors = file->tensors().size();
        r.data_offset = file->data_offset();
        ours = describe::describe(*file);
        nlohmann::json warnings = nlohmann::json::array();
        for (const auto& w : file->warnings()) {
            warnings.push_back({{"code", code_name(w.code)}, {"offset", w.offset}, {"message", w.message}});
        }
        reader.details["warnings"] = std::move(warnings);
        // SHA-256 of the file and XXH3-64 of each tensor's data, in one streaming pass.
        if (auto digest = gguf::digest_file(o.model, *file)) {
            r.sha256 = digest->sha256;
            r.tensor_hashes = std::move(digest->tensors);
        }
    } else {
        if (auto h = gguf::hash_file(o.model, {})) r.sha256 = h->sha256;
        const auto& e = file.error();
        reader.failure_class = std::string(code_name(e.code));
        reader.message = fmt::format("at offset {}: {}", e.offset, e.message);
        reader.details = {{"code", code_name(e.code)}, {"offset", e.offset}};
    }
    r.stages.push_back(reader);

    // 2 and 3. The reference, in a child process.
    const auto located = reference::locate(o.cpp_dir);
    const reference::RunOptions run_options{o.timeout};
    if (!located.ref) {
        r.stages.push_back(unavailable("cpp_header", located.error));
        r.stages.push_back(unavailable("cpp_full", located.error));
        if (o.logits.enabled) r.stages.push_back(unavailable("logits", located.error));
        if (o.dequant) r.stages.push_back(unavailable("dequant", located.error));
    } else {
        const auto& ref = *located.ref;
        r.reference = {ref.name, ref.version, ref.dir.string()};

        auto header_outcome = reference::run_header(ref, o.model, run_options);
        Stage header = stage_from("cpp_header", header_outcome);
        if (header.ok) {
            auto theirs = reference::description_from_header(header_outcome.payload);
            if (!theirs) {
                header.ok = false;
                header.failure_class = "other";
                header.message = "the probe's output could not be read: " + theirs.error().message;
            } else if (ours) {
                if (o.alter_ours_key) alter_for_test(*ours, *o.alter_ours_key, r);
                r.comparison = compare(*ours, *theirs);
                r.compared = true;
                r.notes.insert(r.notes.end(), r.comparison.notes.begin(), r.comparison.notes.end());
            }
        }
        r.stages.push_back(header);

        auto load_outcome = reference::run_load(ref, o.model, run_options);
        Stage full = stage_from("cpp_full", load_outcome);
        if (full.ok) {
            full.details["load"] = load_outcome.payload;
            if (file) {
                r.compared = true;
                auto check = [&](const char* field, const nlohmann::json& theirs, std::optional<std::uint64_t> mine) {
                    if (!mine || theirs.is_null()) return;
                    if (nlohmann::json(*mine) != theirs) {
                        r.comparison.equal = false;
                        r.comparison.mismatches.push_back({field, *mine, theirs});
                    }
                };
                check("load.n_tensors", load_outcome.payload.value("n_tensors", nlohmann::json()),
                      file->tensors().size());
                check("load.n_vocab", load_outcome.payload.value("n_vocab", nlohmann::json()), our_vocab_size(*file));
            }
        }
        r.stages.push_back(full);
        if (o.logits.enabled) r.stages.push_back(logits_stage(ref, o.model, o.logits, run_options));
        if (o.dequant) r.stages.push_back(dequant_stage(ref, o.model, run_options));
    }

    decide(r, file ? &file.value() : nullptr, o.allow_cpp_fail);
    return r;
}

}  // namespace gguf::crossval
