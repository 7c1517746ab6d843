// The JSON document of `diff --json` (fields in docs/diff.md).
#include "describe/description.hpp"
#include "diff/diff.hpp"

namespace gguf::diff {
namespace {

using nlohmann::json;

json header_json(const Header& h) {
    return {{"file", describe::render_string(h.file)},
            {"version", h.version},
            {"byte_order", h.big_endian ? "big" : "little"},
            {"n_kv", h.n_kv},
            {"n_tensors", h.n_tensors},
            {"alignment", h.alignment},
            {"data_offset", h.data_offset},
            {"file_size", h.file_size},
            {"sha256", h.sha256}};
}

json kv_json(const KvEntry& e) {
    return {{"key", e.key}, {"type", e.type}, {"value", e.value}};
}

json tensor_json(const TensorEntry& t) {
    return {{"name", t.name}, {"type", t.type}, {"dims", t.dims}, {"offset", t.offset}, {"size", t.size}};
}

json values_json(const Values& v) {
    json j{{"elements", v.elements},
           {"differing", v.differing},
           {"first_difference", v.first_difference ? json(*v.first_difference) : json(nullptr)},
           {"nmse", describe::render_float(v.nmse)},
           {"max_abs", describe::render_float(v.max_abs)},
           {"max_abs_index", v.max_abs_index},
           {"max_abs_coords", v.max_abs_coords},
           {"max_abs_a", describe::render_float(v.max_abs_a)},
           {"max_abs_b", describe::render_float(v.max_abs_b)},
           {"non_finite_mismatches", v.non_finite_mismatches}};
    return j;
}

}  // namespace

nlohmann::json to_json(const Diff& d) {
    json header = json::array();
    for (const auto& h : d.header) header.push_back({{"field", h.field}, {"a", h.a}, {"b", h.b}});
    json added = json::array(), removed = json::array(), changed = json::array();
    for (const auto& e : d.kv_added) added.push_back(kv_json(e));
    for (const auto& e : d.kv_removed) removed.push_back(kv_json(e));
    for (const auto& c : d.kv_changed) changed.push_back({{"key", c.key}, {"a", kv_json(c.a)}, {"b", kv_json(c.b)}});
    json t_added = json::array(), t_removed = json::array(), t_changed = json::array();
    for (const auto& t : d.tensors_added) t_added.push_back(tensor_json(t));
    for (const auto& t : d.tensors_removed) t_removed.push_back(tensor_json(t));
    for (const auto& c : d.tensors_changed) {
        t_changed.push_back({{"name", c.name}, {"fields", c.fields}, {"a", tensor_json(c.a)}, {"b", tensor_json(c.b)}});
    }
    json data = json::array();
    for (const auto& t : d.data) {
        json j{{"name", t.name},
               {"bytes_equal", t.bytes_equal},
               {"xxh3_a", hex64(t.xxh3_a)},
               {"xxh3_b", hex64(t.xxh3_b)},
               {"size_a", t.size_a},
               {"size_b", t.size_b},
               {"values", t.values ? values_json(*t.values) : json(nullptr)}};
        if (!t.values_skipped.empty()) j["values_skipped"] = t.values_skipped;
        data.push_back(std::move(j));
    }
    return {{"a", header_json(d.a)},
            {"b", header_json(d.b)},
            {"identical", d.identical()},
            {"byte_identical", d.a.file_size == d.b.file_size && d.a.sha256 == d.b.sha256},
            {"header", std::move(header)},
            {"kv", {{"added", std::move(added)}, {"removed", std::move(removed)}, {"changed", std::move(changed)}}},
            {"tensors",
             {{"added", std::move(t_added)}, {"removed", std::move(t_removed)}, {"changed", std::move(t_changed)}}},
            {"data", std::move(data)},
            {"data_differing", d.data_differing()}};
}

}  // namespace gguf::diff
