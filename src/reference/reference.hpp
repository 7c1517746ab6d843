// How to run a reference reader (llama.cpp): find a build, build the probe against it on demand, run
// the probe in a child process, read its JSON back, classify what went wrong. Nothing here parses
// GGUF: the reference does, in another process; description_from_header only re-encodes the values
// the probe reported so that they go through the same renderer as ours.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "describe/description.hpp"
#include "gguf/error.hpp"

namespace gguf::reference {

// The pinned reference that scripts/fetch-reference installs.
inline constexpr std::string_view kPinnedVersion = "3.21.1";  // node-llama-cpp's version

// Why a reference stage failed. Names (failure_class_name) are stable: reports match on them.
enum class FailureClass {
    none,
    file_unreadable,        // the reference could not open or read the file
    invalid_gguf,           // its GGUF reader rejected the structure (magic, counts, strings, offsets...)
    unsupported_version,    // v1, v0, > 3, or a byte-swapped file
    unknown_tensor_type,    // a ggml type id out of range or removed
    unknown_architecture,   // general.architecture names no architecture it knows
    missing_key,            // a key the architecture needs is absent or of the wrong type/length
    missing_tensor,         // a tensor the architecture needs is absent
    wrong_shape,            // a tensor has another shape than the hyperparameters imply
    data_out_of_bounds,     // a tensor's data lies (partly) past the end of the file
    invalid_tensor_data,    // check_tensors found NaN/Inf or otherwise invalid data
    abort_or_signal,        // the reference died of a signal (GGML_ASSERT -> abort, segfault...)
    timeout,                // the probe was killed after RunOptions::timeout
    reference_unavailable,  // no reference build, the probe did not build or could not start
    other,                  // a failure none of the above describes (see the message)
};

// snake_case name ("abort_or_signal").
std::string_view failure_class_name(FailureClass failure);

// The class of a failure from the reference's log/error text (llama.cpp and ggml messages).
// Unrecognised text gives `other`.
FailureClass classify(std::string_view log_text);

// classify() plus the line of the text that decided it (empty when nothing matched).
struct Classification {
    FailureClass failure = FailureClass::other;
    std::string line;
};
Classification classify_text(std::string_view log_text);

struct Reference {
    std::string name;               // "llama.cpp"
    std::string version;            // "node-llama-cpp 3.21.1, commit 80fb11a", `git describe`, or "unknown"
    std::filesystem::path dir;      // the directory the user named (or the pinned cache)
    std::filesystem::path lib_dir;  // where libggml and the CPU backend variants live
    std::filesystem::path probe;    // the probe built against this reference
    std::string origin;  // how it was found: "--cpp-dir", "CROSSVAL_CPP_DIR", "BITNET_CPP_DIR", "pinned cache"
};

struct Located {
    std::optional<Reference> ref;
    std::string error;  // why there is none (actionable)
};

// Find a reference and build its probe (cached). Order: explicit cpp_dir (--cpp-dir) >
// $CROSSVAL_CPP_DIR > $BITNET_CPP_DIR > the pinned cache. The first one given is the one used: a
// broken --cpp-dir is an error, not a reason to fall back to another.
// Accepted layouts of a directory: the pinned cache (lib/ + src/), a llama.cpp source + build tree
// (include/, ggml/include/, build/bin or build/src + build/ggml/src), bitnet.cpp (3rdparty/llama.cpp
// + build/3rdparty/llama.cpp/...), or a flat directory holding headers' roots and the libraries.
Located locate(const std::optional<std::filesystem::path>& cpp_dir);

// bitnet.cpp as an additional reader (the reader matrix's bitnet.cpp column): `dir` if given, else
// $BITNET_CPP_DIR, else the build scripts/fetch-bitnet left under cache_root()/bitnet/ (a complete
// one; the newest if several). Its probe is built like any reference's. Named "bitnet.cpp" unless its
// REFERENCE file says otherwise.
Located locate_bitnet(const std::optional<std::filesystem::path>& dir);

// ${XDG_CACHE_HOME:-$HOME/.cache}/gguf-crossval
std::filesystem::path cache_root();
// cache_root()/reference/<kPinnedVersion>
std::filesystem::path pinned_reference_dir();

struct RunOptions {
    std::chrono::milliseconds timeout{60000};
    std::size_t stdout_cap = std::size_t{512} << 20;  // more output than this kills the probe
    std::size_t stderr_cap = std::size_t{1} << 20;    // only the last stderr_cap bytes are kept
};

struct StageOutcome {
    bool ok = false;
    FailureClass failure = FailureClass::none;
    std::string message;      // one line a user can act on
    std::string log_excerpt;  // the tail of the reference's log (and stderr)
    double duration_ms = 0;
    std::optional<int> signal;  // the signal that ended the probe, if one did
    bool timed_out = false;
    int exit_code = 0;       // the probe's exit code when it exited normally
    nlohmann::json payload;  // the probe's JSON object (null when it printed none)
};

// `ref-probe header MODEL`: the reference's GGUF reader on the file.
StageOutcome run_header(const Reference& ref, const std::filesystem::path& model, const RunOptions& options);
// `ref-probe load MODEL`: a full llama.cpp model load (CPU, check_tensors); with vocab_only, its
// vocabulary-only route (no tensor is looked for or read).
StageOutcome run_load(const Reference& ref, const std::filesystem::path& model, const RunOptions& options,
                      bool vocab_only = false);
// `ref-probe logits [--tokens T] MODEL`: decode the tokens (comma-separated ids; empty: the probe's
// default sequence) on one thread and return every position's logits ("logits_bits"). `bos_first`:
// the first token becomes BOS when the model's tokenizer adds one (llama-perplexity's chunks).
// With `output`, the probe writes the logits there as a binary GLOG file instead (the payload then
// names it in "output" and has no "logits_bits").
StageOutcome run_logits(const Reference& ref, const std::filesystem::path& model, const std::string& tokens,
                        const RunOptions& options, bool bos_first = false,
                        const std::optional<std::filesystem::path>& output = std::nullopt);
// `ref-probe MODE --libdir LIB_DIR REST...` for args = {MODE, REST...}: any mode, for later stages
// (logits, quantize). Put file names after a "--" in REST: the probe then takes them as positionals.
StageOutcome run_probe(const Reference& ref, const std::vector<std::string>& args, const RunOptions& options);

// What a probe that exited normally printed, read into `o`: its JSON object as the payload, ok, and
// for a failure the class and message (classified from the answer's log, `err` and its error). An
// answer that is not a JSON object with a boolean "ok" and string "log"/"error" (when present) is a
// failure of class other with a null payload. `mode` and `exit_code` only name the run in messages.
void read_probe_answer(const std::string& mode, int exit_code, std::string_view out, std::string_view err,
                       StageOutcome& o);

// The reference's header payload (run_header's) as our neutral Description: each value is rebuilt
// as a gguf::Value, encoded canonically and rendered by gguf::describe::describe_kv, so ours and
// theirs go through one renderer. Tensor type names come from gguf::ggml_type(id).
// Dims are ne[0..n_dims) with ggml's n_dims rule (trailing 1s dropped): ggml keeps no stored count.
// A payload that is not a successful header dump gives an Error (code io_error, "reference payload: ...").
gguf::Result<gguf::describe::Description> description_from_header(const nlohmann::json& payload);
// The same, consuming the payload: each key-value's JSON is freed as soon as it is converted (the peak
// is then about one JSON tree, not a tree and its conversion).
gguf::Result<gguf::describe::Description> description_from_header(nlohmann::json&& payload);

}  // namespace gguf::reference
