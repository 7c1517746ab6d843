// Activation traces: the intermediate tensors of one decode, read from a trace file
// (docs/trace-format.md) or handed over by an implementation in-process, and compared tensor by
// tensor in graph order to find the first tensor where two implementations part.
// Pure functions; the only I/O is read_trace.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/error.hpp"

namespace gguf::crossval {

inline constexpr std::string_view kTraceFormat = "gguf-crossval-trace/1";

// Errors of traces: reading a trace file, producing one, comparing two. Their own codes (gguf::Code
// is the GGUF reader's contract).
enum class TraceCode {
    malformed_file,  // not a readable trace file (the message gives the safetensors code and byte offset)
    bad_metadata,    // its metadata (tokens, nodes) does not have the documented form
    not_comparable,  // two traces of different token sequences
    source_failed,   // the implementation that was to produce a trace could not (reference, builtin)
};
struct TraceError {
    TraceCode code = TraceCode::malformed_file;
    std::uint64_t offset = 0;
    std::string message;
};
template <class T>
using TraceResult = gguf::Result<T, TraceError>;

struct TraceTensor {
    std::string key;                   // as stored: NAME, NAME#k (an earlier node of the same name), #node<i> (unnamed)
    std::string op;                    // ggml op name when the trace records it (reference traces), else empty
    std::vector<std::uint64_t> shape;  // row-major; the first dimension is the position for activations
    bool captured = true;              // false: the node is listed but its data was not recorded
    std::vector<float> values;
};

struct Trace {
    std::string source;                // a path, "builtin", a reference's name
    std::string producer;              // free text from the file
    std::string model_sha256;          // empty when not recorded
    std::vector<std::int32_t> tokens;  // empty when not recorded
    std::vector<TraceTensor> tensors;  // graph order

    const TraceTensor* find(std::string_view key) const;
};

// Reads a trace file: a safetensors file whose tensors are F32, F16 or BF16 (widened to f32).
// Order: the `nodes` metadata when present (nodes without data are kept, captured = false), else
// the header's order. Failures: malformed_file (the message names the file, the safetensors error code
// and byte offset), bad_metadata.
TraceResult<Trace> read_trace(const std::filesystem::path& path);

// The layer of a tensor, from llama.cpp's "-N" suffix on the name ("ffn_out-1" -> 1,
// "Kcur-0 (view)" -> 0, "result_norm" -> none).
std::optional<int> layer_of(std::string_view key);

// When two tensors of the same name are said to agree. A tensor diverges when any check fails.
// The defaults hold for two f32 computations of the same function that differ only in summation
// order (llama.cpp against itself is exact; against a double-accumulating implementation about 1e-6).
struct TraceThresholds {
    double max_abs = 1e-4;        // largest allowed |a - b| of one element
    double min_cosine = 0.99999;  // smallest allowed cosine similarity (per tensor and per position)
    double max_nmse = 1e-8;       // largest allowed sum (a-b)^2 / sum a^2
};

struct Metrics {
    double max_abs = 0;
    std::uint64_t max_abs_index = 0;  // flat row-major index (within the position for per-position figures)
    double nmse = 0;
    double cosine = 1;
    std::uint64_t non_finite_mismatches = 0;  // elements where one side is NaN/inf and the other differs
};

enum class TensorStatus {
    compared,      // both sides hold it with the same element count
    only_a,        // only the first trace (the reference) holds it
    only_b,        // only the second trace holds it
    incomparable,  // both hold it, with different element counts
    not_captured,  // listed by a side that recorded no data for it
};
std::string_view tensor_status_name(TensorStatus s);

struct TensorComparison {
    std::string key;
    std::optional<int> layer;
    std::string op;
    std::vector<std::uint64_t> shape_a, shape_b;
    TensorStatus status = TensorStatus::compared;
    Metrics metrics;                 // whole tensor (compared only)
    std::vector<Metrics> positions;  // along the first dimension when it is the token count
    bool diverges = false;
    std::vector<std::string> reasons;           // the checks that failed, with figures
    std::optional<std::size_t> first_position;  // the first position that diverges
};

struct TraceDivergence {
    std::string key;
    std::optional<int> layer;
    std::optional<std::size_t> position;
    std::vector<std::string> reasons;
};

struct TraceComparison {
    std::vector<TensorComparison> tensors;  // a's graph order, then what only b holds in b's order
    std::optional<TraceDivergence> first_divergence;
    std::size_t n_compared = 0, n_diverging = 0;
    std::vector<std::string> only_a, only_b, incomparable;
    std::vector<std::string> notes;  // different models, different shapes of one tensor...
};

// Compares b against a (a is the reference: its order is the graph order). Tokens recorded on both
// sides must be equal (else an Error: the traces are of different decodes).
TraceResult<TraceComparison> compare_traces(const Trace& a, const Trace& b, const TraceThresholds& t = {});

// Metrics of two equally long spans.
Metrics compare_values(std::span<const float> a, std::span<const float> b);
std::vector<std::string> failed_checks(const Metrics& m, const TraceThresholds& t);

}  // namespace gguf::crossval
