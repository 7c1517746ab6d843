// The text report of `diff`: what differs, section by section, each value as `inspect` renders it.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "diff/diff.hpp"
#include "util/escape.hpp"

namespace gguf::diff {
namespace {

using util::terminal_safe;  // one escaper for terminal output (src/util/escape.hpp)

std::string value_text(const nlohmann::json& v) {
    return terminal_safe(v.dump());
}

std::string kv_text(const KvEntry& e) {
    return fmt::format("({}) {}", e.type, value_text(e.value));
}

std::string tensor_text(const TensorEntry& t) {
    return fmt::format("{} [{}] offset {} size {}", t.type, fmt::join(t.dims, ", "), t.offset, t.size);
}

}  // namespace

std::string to_text(const Diff& d) {
    std::string out;
    auto line = [&out](const std::string& s) {
        out += s;
        out += '\n';
    };
    line(fmt::format("A: {} (GGUF v{}, {} bytes)", terminal_safe(d.a.file), d.a.version, d.a.file_size));
    line(fmt::format("B: {} (GGUF v{}, {} bytes)", terminal_safe(d.b.file), d.b.version, d.b.file_size));

    line(d.header.empty() ? "header: same" : fmt::format("header: {} field(s) differ", d.header.size()));
    for (const auto& h : d.header) line(fmt::format("  ~ {}: {} -> {}", h.field, value_text(h.a), value_text(h.b)));

    const auto n_kv = d.kv_added.size() + d.kv_removed.size() + d.kv_changed.size();
    line(n_kv == 0 ? "key-values: same"
                   : fmt::format("key-values: {} added, {} removed, {} changed", d.kv_added.size(), d.kv_removed.size(),
                                 d.kv_changed.size()));
    for (const auto& e : d.kv_removed) line(fmt::format("  - {} {}", terminal_safe(e.key), kv_text(e)));
    for (const auto& e : d.kv_added) line(fmt::format("  + {} {}", terminal_safe(e.key), kv_text(e)));
    for (const auto& c : d.kv_changed) {
        line(fmt::format("  ~ {}: {} -> {}", terminal_safe(c.key), kv_text(c.a), kv_text(c.b)));
    }

    const auto n_t = d.tensors_added.size() + d.tensors_removed.size() + d.tensors_changed.size();
    line(n_t == 0 ? "tensor table: same"
                  : fmt::format("tensor table: {} added, {} removed, {} changed", d.tensors_added.size(),
                                d.tensors_removed.size(), d.tensors_changed.size()));
    for (const auto& t : d.tensors_removed) line(fmt::format("  - {} {}", terminal_safe(t.name), tensor_text(t)));
    for (const auto& t : d.tensors_added) line(fmt::format("  + {} {}", terminal_safe(t.name), tensor_text(t)));
    for (const auto& c : d.tensors_changed) {
        line(fmt::format("  ~ {} ({}): {} -> {}", terminal_safe(c.name), fmt::join(c.fields, ", "), tensor_text(c.a),
                         tensor_text(c.b)));
    }

    const auto differing = d.data_differing();
    line(fmt::format("data: {} of {} common tensor(s) differ", differing, d.data.size()));
    for (const auto& t : d.data) {
        if (t.bytes_equal && !t.values && t.values_skipped.empty()) continue;
        line(fmt::format("  {} {}: xxh3 {} -> {}", t.bytes_equal ? "=" : "~", terminal_safe(t.name), hex64(t.xxh3_a),
                         hex64(t.xxh3_b)));
        if (t.values) {
            const auto& v = *t.values;
            if (v.differing == 0) {
                line(fmt::format("      values: all {} equal after dequantization", v.elements));
            } else {
                line(fmt::format(
                    "      values: {} of {} differ; nmse {:.6g}, max abs {:.6g} at index {} [{}] "
                    "({:.9g} -> {:.9g}){}",
                    v.differing, v.elements, v.nmse, v.max_abs, v.max_abs_index, fmt::join(v.max_abs_coords, ", "),
                    v.max_abs_a, v.max_abs_b,
                    v.non_finite_mismatches ? fmt::format(", {} non-finite mismatches", v.non_finite_mismatches)
                                            : std::string()));
            }
        } else if (!t.values_skipped.empty()) {
            line(fmt::format("      values not compared: {}", terminal_safe(t.values_skipped)));
        }
    }
    line(d.identical() ? "identical" : "different");
    return out;
}

}  // namespace gguf::diff
