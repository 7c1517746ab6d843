// The cross-validation flow and its verdict.
#include "flow.hpp"

#include "dequant_stage.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <future>

#include "gguf/data/hash.hpp"
#include "reference/reference.hpp"
#include "vocabulary.hpp"

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
           code == Code::offsets_not_contiguous || code == Code::bitnet_i2_s || code == Code::byte_swapped;
}

Stage stage_from(StageId id, const reference::StageOutcome& o) {
    Stage s;
    s.id = id;
    s.ran = true;
    s.ok = o.ok;
    s.duration_ms = o.duration_ms;
    if (!o.ok) s.failure = o.failure;
    s.message = o.message;
    if (!o.ok) s.log_excerpt = o.log_excerpt;  // a passing stage's log adds nothing and varies run to run
    if (o.signal) s.details["signal"] = *o.signal;
    if (o.timed_out) s.details["timed_out"] = true;
    return s;
}

Stage unavailable(StageId id, const std::string& why) {
    Stage s;
    s.id = id;
    s.ran = true;  // it was attempted: the reference is missing, which is a failure, never a pass
    s.failure = reference::FailureClass::reference_unavailable;
    s.message = why;
    return s;
}

// A load answer names the vocabulary size it loaded and the tensor count (null when the loader did
// not log it); without them nothing would be checked.
bool load_answer_complete(const nlohmann::json& payload) {
    return payload.is_object() && payload.contains("n_tensors") &&
           (payload["n_tensors"].is_number_unsigned() || payload["n_tensors"].is_null()) &&
           payload.contains("n_vocab") && payload["n_vocab"].is_number_unsigned();
}

void alter_for_test(describe::Description& ours, const std::string& key, Report& r) {
    for (auto& kv : ours.kv) {
        if (kv.key != key) continue;
        kv.value = "altered by CROSSVAL_TEST_ALTER_OURS";
        kv.digest ^= 1;
        r.notes.push_back(
            {NoteKind::test_hook, fmt::format("test hook CROSSVAL_TEST_ALTER_OURS altered our value of '{}'", key)});
        return;
    }
    r.notes.push_back(
        {NoteKind::test_hook, fmt::format("test hook CROSSVAL_TEST_ALTER_OURS: no key '{}' to alter", key)});
}

// The accept/reject split between our reader and the reference's: a finding when it is unexplained
// (a disagreement), a note when both reject or one of our warnings predicted the reference's rejection.
// Returns true for a disagreement.
bool judge_split(Report& r, const File* file) {
    const Stage* reader = r.stage(StageId::reader);
    const Stage* header = r.stage(StageId::cpp_header);
    const bool header_rejects = header && !header->ok && !is_reference_malfunction(header->failure);
    if (!reader->ok) {
        if (header && header->ok) {
            r.findings.push_back(fmt::format("the reference accepts this file; our reader rejects it: [{}] {}",
                                             failure_name(reader->failure), reader->message));
        } else if (header_rejects) {
            r.notes.push_back(
                {NoteKind::both_reject, fmt::format("both readers reject this file (ours: {}; reference: {})",
                                                    failure_name(reader->failure), failure_name(header->failure))});
        }
        return false;
    }
    if (!header_rejects) return false;
    std::vector<std::string_view> predicted;
    for (const auto& w : file->warnings()) {
        if (predicts_reference_rejection(w.code)) predicted.push_back(code_name(w.code));
    }
    if (predicted.empty()) {
        r.findings.push_back(fmt::format("our reader accepts this file; the reference rejects it: [{}] {}",
                                         failure_name(header->failure), header->message));
        return true;
    }
    r.notes.push_back({NoteKind::predicted_rejection,
                       fmt::format("the reference rejects this file, as our portability warning(s) {} predict",
                                   fmt::join(predicted, ", "))});
    return false;
}

// How a failed reference stage counts: allowed by an expectation that matches it, refused by one that
// does not (another class, or an expectation that it passes), else allowed only by the soft-fail policy.
// Returns true when the failure is allowed (an XFAIL).
bool allow_failure(Stage& s, const Expectation* e, bool allow_env, Report& r) {
    if (e != nullptr && e->fails && (!e->failure || *e->failure == s.failure)) {
        s.xfail_rule = describe_rule(*e);
        return true;
    }
    if (e != nullptr) {
        r.findings.push_back(fmt::format("{} failed with {}, but {} declares {}", stage_name(s.id),
                                         failure_name(s.failure), describe_rule(*e),
                                         e->fails ? "the failure " + failure_name(*e->failure) : "that it passes"));
        return false;
    }
    if (allow_env) s.xfail_rule = "CROSSVAL_ALLOW_CPP_FAIL";
    return allow_env;
}

// The verdict: our reader's rejection first, then any disagreement (field mismatches, an unexplained
// split, a diverging stage), then reference failures (XFAIL when an expectation or the policy allows
// them), then unexpected passes under --strict.
void decide(Report& r, const File* file, const Options& o) {
    bool disagree = judge_split(r, file) || (r.compared && !r.comparison.equal);
    bool reference_failed = false;
    bool xpass = false;
    const std::string key = o.model_key.empty() ? o.model.string() : o.model_key;
    for (auto& s : r.stages) {
        if (s.id == StageId::reader) continue;
        const Expectation* e = o.expectations ? o.expectations->find(key, s.id) : nullptr;
        if (s.ok) {
            if (e != nullptr && e->fails) {
                s.xpass = xpass = true;
                r.findings.push_back(fmt::format("XPASS: {} passed, but {} declares that it fails", stage_name(s.id),
                                                 describe_rule(*e)));
            }
            continue;
        }
        if (is_disagreement(s.failure)) {
            disagree = true;
            r.findings.push_back(
                fmt::format("{}: the second source diverges from the reference: {}", stage_name(s.id), s.message));
            continue;
        }
        s.xfail = allow_failure(s, e, o.allow_cpp_fail, r);
        reference_failed = reference_failed || !s.xfail;
    }

    const bool any_xfail = r.xfail();
    if (!r.stage(StageId::reader)->ok) {
        r.verdict = Verdict::reader_rejected;
        r.exit_code = kReaderRejected;
    } else if (disagree) {
        r.verdict = Verdict::readers_disagree;
        r.exit_code = kDisagree;
    } else if (reference_failed) {
        r.verdict = Verdict::reference_failed;
        r.exit_code = kReferenceFailed;
    } else if (xpass && o.strict) {
        r.verdict = Verdict::unexpected_pass;
        r.exit_code = kReferenceFailed;
    } else {
        r.verdict = any_xfail ? Verdict::pass_xfail : Verdict::pass;
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

namespace {

// Stage 1: our reader. Fills the header facts and hashes; returns the parsed file (or its error).
Result<File> reader_stage(const std::filesystem::path& model, Report& r, std::optional<describe::Description>& ours) {
    Stage reader;
    reader.id = StageId::reader;
    reader.ran = true;
    auto start = Clock::now();
    auto file = gguf::open(model);
    reader.duration_ms = ms_since(start);
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
        if (auto digest = gguf::digest_file(model, *file)) {
            r.sha256 = digest->sha256;
            r.tensor_hashes = std::move(digest->tensors);
        }
    } else {
        if (auto h = gguf::hash_file(model, {})) r.sha256 = h->sha256;
        const auto& e = file.error();
        reader.failure = e.code;
        reader.message = fmt::format("at offset {}: {}", e.offset, e.message);
        reader.details = {{"code", code_name(e.code)}, {"offset", e.offset}};
    }
    r.stages.push_back(std::move(reader));
    return file;
}

// Stage 2: the reference's GGUF reader, compared field by field with ours when both accept.
void header_stage(const reference::StageOutcome& outcome, const Options& o, std::optional<describe::Description>& ours,
                  Report& r) {
    Stage header = stage_from(StageId::cpp_header, outcome);
    if (header.ok) {
        auto theirs = reference::description_from_header(outcome.payload);
        if (!theirs) {
            header.ok = false;
            header.failure = reference::FailureClass::other;
            header.message = "the probe's output could not be read: " + theirs.error().message;
        } else if (ours) {
            if (o.alter_ours_key) alter_for_test(*ours, *o.alter_ours_key, r);
            r.comparison = compare_descriptions(*ours, *theirs);
            r.compared = true;
            r.notes.insert(r.notes.end(), r.comparison.notes.begin(), r.comparison.notes.end());
        }
    }
    r.stages.push_back(std::move(header));
}

// A vocabulary-only file: no tensor, and a vocabulary (llama.cpp's tokenizer test files are such).
bool vocabulary_only(const File* file) {
    if (file == nullptr || !file->tensors().empty()) return false;
    return std::any_of(file->kvs().begin(), file->kvs().end(),
                       [](const auto& kv) { return kv.key == "tokenizer.ggml.tokens"; });
}

// Stage 3: the reference's full model load (for a vocabulary-only file, its vocabulary-only route);
// its tensor count and vocabulary size compared with ours.
void full_load_stage(const reference::StageOutcome& outcome, bool vocab_only, const File* file, Report& r) {
    Stage full = stage_from(StageId::cpp_full, outcome);
    if (vocab_only) {
        full.details["route"] = "vocab_only";
        r.notes.push_back({NoteKind::vocab_only_load,
                           "the file holds a vocabulary and no tensor: cpp_full loaded it through llama.cpp's "
                           "vocabulary-only route (vocab_only), as its tokenizer tools do"});
    }
    if (full.ok && !load_answer_complete(outcome.payload)) {
        full.ok = false;
        full.failure = reference::FailureClass::other;
        full.message = "the probe's load answer lacks n_vocab or n_tensors (unsigned integers): nothing to compare";
    }
    if (full.ok) {
        full.details["load"] = outcome.payload;
        if (file != nullptr) {
            r.compared = true;
            auto check = [&](Field field, const char* key, std::optional<std::uint64_t> mine) {
                const auto theirs = outcome.payload.value(key, nlohmann::json());
                if (!mine || theirs.is_null()) return;
                if (nlohmann::json(*mine) != theirs) {
                    r.comparison.equal = false;
                    r.comparison.mismatches.push_back({FieldPath{field, 0, {}}, *mine, theirs});
                }
            };
            check(Field::load_n_tensors, "n_tensors", file->tensors().size());
            check(Field::load_n_vocab, "n_vocab", our_vocab_size(*file));
        }
    }
    r.stages.push_back(std::move(full));
}

// The logits and trace stages. With --text, the reference tokenizes the text first and both decode
// its ids; when it cannot, each stage fails with the reason (never a pass).
void decode_stages(const reference::Reference& ref, const Options& o, const reference::RunOptions& run, Report& r) {
    if (!o.logits.enabled && !o.trace.enabled) return;
    LogitsOptions logits = o.logits;
    TraceOptions trace = o.trace;
    if (logits.text) {
        auto ids = reference_tokenize(ref, o.model, *logits.text, true, run);
        if (ids && ids->empty()) ids = std::string("the reference tokenizes --text into no token at all");
        if (!ids) {
            for (auto [id, on] :
                 {std::pair{StageId::logits, logits.enabled}, std::pair{StageId::trace, trace.enabled}}) {
                if (!on) continue;
                Stage s;
                s.id = id;
                s.ran = true;
                s.failure = reference::FailureClass::other;
                s.message = ids.error();
                r.stages.push_back(std::move(s));
            }
            return;
        }
        logits.tokens = trace.tokens = fmt::format("{}", fmt::join(*ids, ","));
    }
    auto with_text = [&](Stage s) {
        if (logits.text) {
            s.details["text"] = describe::render_string(*logits.text);
            s.details["text_tokens"] = logits.tokens;
        }
        r.stages.push_back(std::move(s));
    };
    if (logits.enabled) with_text(logits_stage(ref, o.model, logits, run));
    if (trace.enabled) with_text(trace_stage(ref, o.model, r.sha256, trace, run));
}

}  // namespace

Report run(const Options& o) {
    Report r;
    r.model = describe::render_string(o.model.string());  // paths need not be UTF-8; JSON must be
    r.timestamp = utc_timestamp();
    r.platform = platform_name();
    r.allow_cpp_fail = o.allow_cpp_fail;
    std::error_code ec;
    if (auto size = std::filesystem::file_size(o.model, ec); !ec) r.file_size = size;

    std::optional<describe::Description> ours;
    auto file = reader_stage(o.model, r, ours);
    const File* parsed = file ? &file.value() : nullptr;

    // The reference's stages, each in a child process.
    const auto located = reference::locate(o.cpp_dir);
    const reference::RunOptions run_options{o.timeout};
    if (!located.ref) {
        r.stages.push_back(unavailable(StageId::cpp_header, located.error));
        r.stages.push_back(unavailable(StageId::cpp_full, located.error));
        if (o.logits.enabled) r.stages.push_back(unavailable(StageId::logits, located.error));
        if (o.trace.enabled) r.stages.push_back(unavailable(StageId::trace, located.error));
        if (o.dequant) r.stages.push_back(unavailable(StageId::dequant, located.error));
        if (o.tokenize.enabled) r.stages.push_back(unavailable(StageId::tokenize, located.error));
    } else {
        const auto& ref = *located.ref;
        r.reference = {ref.name, ref.version, ref.dir.string()};
        // The two stages are independent: their children run at the same time (each its own process,
        // as before), and their answers are then taken in stage order.
        const bool vocab_only = vocabulary_only(parsed);
        auto header_run =
            std::async(std::launch::async, [&] { return reference::run_header(ref, o.model, run_options); });
        const auto load_outcome = reference::run_load(ref, o.model, run_options, vocab_only);
        header_stage(header_run.get(), o, ours, r);
        full_load_stage(load_outcome, vocab_only, parsed, r);
        decode_stages(ref, o, run_options, r);
        if (o.dequant) r.stages.push_back(dequant_stage(ref, o.model, run_options));
        if (o.tokenize.enabled) r.stages.push_back(tokenize_stage(ref, o.model, o.tokenize, run_options));
    }

    decide(r, parsed, o);
    return r;
}

}  // namespace gguf::crossval
