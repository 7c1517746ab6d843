#include "trace.hpp"

#include <fmt/format.h>
#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "safetensors/safetensors.hpp"

namespace gguf::crossval {
namespace {

namespace st = gguf::safetensors;

TraceError trace_error(const std::filesystem::path& path, std::string message) {
    return TraceError{TraceCode::bad_metadata, 0, fmt::format("trace {}: {}", path.string(), message)};
}

// A metadata value that is itself JSON (tokens, nodes): bounded nesting, parsed without throwing.
std::optional<nlohmann::json> json_value(std::string_view text, int max_depth) {
    if (st::json_too_deep_at(text, max_depth)) return std::nullopt;
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    return j;
}

}  // namespace

const TraceTensor* Trace::find(std::string_view key) const {
    for (const auto& t : tensors) {
        if (t.key == key) return &t;
    }
    return nullptr;
}

TraceResult<Trace> read_trace(const std::filesystem::path& path) {
    auto file = st::open(path);
    if (!file) {
        const auto& e = file.error();
        return TraceError{TraceCode::malformed_file, e.offset,
                          fmt::format("trace {}: {} (safetensors {} at byte {})", path.string(), e.message,
                                      st::code_name(e.code), e.offset)};
    }
    Trace trace;
    trace.source = path.string();
    const auto format = file->meta("format");
    if (format && *format != kTraceFormat) {
        return trace_error(path, fmt::format("format \"{}\" is not {}", *format, kTraceFormat));
    }
    trace.producer = std::string(file->meta("producer").value_or(""));
    trace.model_sha256 = std::string(file->meta("model_sha256").value_or(""));
    if (auto tokens = file->meta("tokens")) {
        const auto j = json_value(*tokens, 1);
        if (!j || !j->is_array()) return trace_error(path, "metadata \"tokens\" is not a JSON array of token ids");
        for (const auto& t : *j) {
            if (!t.is_number_unsigned() || t.get<std::uint64_t>() > 0x7FFFFFFF) {
                return trace_error(path, "metadata \"tokens\" holds something other than token ids");
            }
            trace.tokens.push_back(static_cast<std::int32_t>(t.get<std::uint64_t>()));
        }
    }

    auto load = [&](const st::Tensor& t) -> TraceResult<TraceTensor> {
        auto values = st::to_f32(t);
        if (!values) return trace_error(path, values.error().message);
        return TraceTensor{t.name, "", t.shape, true, std::move(*values)};
    };
    std::unordered_map<std::string_view, bool> placed;
    if (auto nodes = file->meta("nodes")) {
        const auto j = json_value(*nodes, 3);
        if (!j || !j->is_array()) return trace_error(path, "metadata \"nodes\" is not a JSON array of node objects");
        for (const auto& n : *j) {
            if (!n.is_object() || !n.contains("key") || !n["key"].is_string()) {
                return trace_error(path, "an entry of metadata \"nodes\" has no \"key\" string");
            }
            const auto key = n["key"].get<std::string>();
            const st::Tensor* t = file->find(key);
            TraceTensor tt;
            if (t != nullptr) {
                if (placed.count(t->name) != 0) return trace_error(path, fmt::format("node '{}' is listed twice", key));
                auto loaded = load(*t);
                if (!loaded) return loaded.error();
                tt = std::move(*loaded);
                placed[t->name] = true;
            } else {
                tt.key = key;
                tt.captured = false;
                if (n.contains("shape") && n["shape"].is_array()) {
                    for (const auto& d : n["shape"]) {
                        if (d.is_number_unsigned()) tt.shape.push_back(d.get<std::uint64_t>());
                    }
                }
            }
            if (n.contains("op") && n["op"].is_string()) tt.op = n["op"].get<std::string>();
            trace.tensors.push_back(std::move(tt));
        }
    }
    for (const auto& t : file->tensors) {
        if (placed.count(t.name) != 0) continue;
        auto loaded = load(t);
        if (!loaded) return loaded.error();
        trace.tensors.push_back(std::move(*loaded));
    }
    return trace;
}

std::optional<int> layer_of(std::string_view key) {
    // The first "-N" that ends the name or is followed by a space (llama.cpp's " (view)" suffixes)
    // or by our "#k" occurrence suffix.
    for (std::size_t i = 0; i < key.size(); ++i) {
        if (key[i] != '-') continue;
        std::size_t j = i + 1;
        int layer = 0;
        while (j < key.size() && key[j] >= '0' && key[j] <= '9' && j - i <= 6) layer = layer * 10 + (key[j++] - '0');
        if (j > i + 1 && j - i <= 6 && (j == key.size() || key[j] == ' ' || key[j] == '#')) return layer;
    }
    return std::nullopt;
}

std::string_view tensor_status_name(TensorStatus s) {
    switch (s) {
        case TensorStatus::compared:
            return "compared";
        case TensorStatus::only_a:
            return "only_reference";
        case TensorStatus::only_b:
            return "only_other";
        case TensorStatus::incomparable:
            return "incomparable";
        case TensorStatus::not_captured:
            return "not_captured";
    }
    return "unknown";
}

Metrics compare_values(std::span<const float> a, std::span<const float> b) {
    Metrics m;
    double aa = 0, bb = 0, ab = 0, dd = 0;
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
        const double x = a[i], y = b[i];
        if (!std::isfinite(x) || !std::isfinite(y)) {
            const bool same = (std::isnan(x) && std::isnan(y)) || x == y;
            if (!same) ++m.non_finite_mismatches;
            continue;
        }
        const double d = std::fabs(x - y);
        if (d > m.max_abs) {
            m.max_abs = d;
            m.max_abs_index = i;
        }
        aa += x * x;
        bb += y * y;
        ab += x * y;
        dd += (x - y) * (x - y);
    }
    m.nmse = aa > 0 ? dd / aa : (dd > 0 ? INFINITY : 0.0);
    if (aa == 0 && bb == 0)
        m.cosine = 1;
    else if (aa == 0 || bb == 0)
        m.cosine = 0;
    else
        m.cosine = ab / std::sqrt(aa * bb);
    return m;
}

std::vector<std::string> failed_checks(const Metrics& m, const TraceThresholds& t) {
    std::vector<std::string> out;
    if (m.non_finite_mismatches > 0) out.push_back(fmt::format("{} non-finite values differ", m.non_finite_mismatches));
    if (m.max_abs > t.max_abs)
        out.push_back(fmt::format("max |a-b| {:.3g} at [{}] > {:g}", m.max_abs, m.max_abs_index, t.max_abs));
    if (m.cosine < t.min_cosine) out.push_back(fmt::format("cosine {:.9g} < {:g}", m.cosine, t.min_cosine));
    if (m.nmse > t.max_nmse) out.push_back(fmt::format("nmse {:.3g} > {:g}", m.nmse, t.max_nmse));
    return out;
}

namespace {

std::string shape_text(const std::vector<std::uint64_t>& s) {
    return fmt::format("[{}]", fmt::join(s, ", "));
}

TensorComparison compare_one(const TraceTensor& a, const TraceTensor& b, std::size_t n_tokens, const TraceThresholds& t,
                             std::vector<std::string>& notes) {
    TensorComparison c;
    c.key = a.key;
    c.layer = layer_of(a.key);
    c.op = a.op.empty() ? b.op : a.op;
    c.shape_a = a.shape;
    c.shape_b = b.shape;
    if (!a.captured || !b.captured) {
        c.status = TensorStatus::not_captured;
        return c;
    }
    if (a.values.size() != b.values.size()) {
        c.status = TensorStatus::incomparable;
        return c;
    }
    if (a.shape != b.shape) {
        notes.push_back(fmt::format("'{}': shapes {} and {} differ; compared element by element (same count)", a.key,
                                    shape_text(a.shape), shape_text(b.shape)));
    }
    c.metrics = compare_values(a.values, b.values);
    c.reasons = failed_checks(c.metrics, t);
    c.diverges = !c.reasons.empty();
    const bool by_position = n_tokens > 0 && !a.shape.empty() && a.shape[0] == n_tokens && !a.values.empty();
    if (by_position) {
        const std::size_t row = a.values.size() / n_tokens;
        for (std::size_t p = 0; p < n_tokens; ++p) {
            const std::span<const float> ra(a.values.data() + p * row, row), rb(b.values.data() + p * row, row);
            c.positions.push_back(compare_values(ra, rb));
            if (c.diverges && !c.first_position && !failed_checks(c.positions.back(), t).empty()) c.first_position = p;
        }
    }
    return c;
}

}  // namespace

TraceResult<TraceComparison> compare_traces(const Trace& a, const Trace& b, const TraceThresholds& t) {
    if (!a.tokens.empty() && !b.tokens.empty() && a.tokens != b.tokens) {
        return TraceError{
            TraceCode::not_comparable, 0,
            fmt::format("the traces decode different tokens ({} decodes [{}], {} decodes [{}]): pass the same --tokens",
                        a.source, fmt::join(a.tokens, ","), b.source, fmt::join(b.tokens, ","))};
    }
    TraceComparison out;
    if (!a.model_sha256.empty() && !b.model_sha256.empty() && a.model_sha256 != b.model_sha256) {
        out.notes.push_back(
            fmt::format("the traces are of different model files (SHA-256 {} and {})", a.model_sha256, b.model_sha256));
    }
    const std::size_t n_tokens = !a.tokens.empty() ? a.tokens.size() : b.tokens.size();
    std::unordered_map<std::string_view, const TraceTensor*> in_b;
    for (const auto& tb : b.tensors) in_b.emplace(tb.key, &tb);
    std::unordered_map<std::string_view, bool> in_a;
    for (const auto& ta : a.tensors) {
        in_a.emplace(ta.key, true);
        const auto it = in_b.find(ta.key);
        TensorComparison c;
        if (it == in_b.end()) {
            c.key = ta.key;
            c.layer = layer_of(ta.key);
            c.op = ta.op;
            c.shape_a = ta.shape;
            c.status = TensorStatus::only_a;
            out.only_a.push_back(ta.key);
        } else {
            c = compare_one(ta, *it->second, n_tokens, t, out.notes);
            if (c.status == TensorStatus::incomparable) out.incomparable.push_back(ta.key);
        }
        if (c.status == TensorStatus::compared) ++out.n_compared;
        if (c.diverges) {
            ++out.n_diverging;
            if (!out.first_divergence)
                out.first_divergence = TraceDivergence{c.key, c.layer, c.first_position, c.reasons};
        }
        out.tensors.push_back(std::move(c));
    }
    for (const auto& tb : b.tensors) {
        if (in_a.count(tb.key) != 0) continue;
        TensorComparison c;
        c.key = tb.key;
        c.layer = layer_of(tb.key);
        c.op = tb.op;
        c.shape_b = tb.shape;
        c.status = TensorStatus::only_b;
        out.only_b.push_back(tb.key);
        out.tensors.push_back(std::move(c));
    }
    return out;
}

}  // namespace gguf::crossval
