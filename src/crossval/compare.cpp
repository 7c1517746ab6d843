// Field-by-field comparison.
#include "compare.hpp"

#include <fmt/format.h>

namespace gguf::crossval {
namespace {

class Comparer {
public:
    explicit Comparer(Comparison& out) : out_(out) {}

    template <class A, class B>
    void field(FieldPath path, const A& ours, const B& reference) {
        if (nlohmann::json(ours) == nlohmann::json(reference)) return;
        out_.equal = false;
        out_.mismatches.push_back({std::move(path), ours, reference});
    }

private:
    Comparison& out_;
};

// ggml keeps no dimension count: it reports a tensor stored as [4, 1] as [4] (ggml_n_dims drops
// trailing 1s), and a 0-dimension scalar as [1] (ggml_n_dims is at least 1). Compare shapes with
// every trailing 1 dropped, which makes [], [1] and [1, 1] the same shape.
std::vector<std::uint64_t> without_trailing_ones(std::vector<std::uint64_t> dims) {
    while (!dims.empty() && dims.back() == 1) dims.pop_back();
    return dims;
}

FieldPath kv_field(const describe::Kv& kv, std::size_t i, Field what) {
    return {what, i, kv.key};
}

FieldPath tensor_field(const describe::Tensor& t, std::size_t i, Field what) {
    return {what, i, t.name};
}

std::string_view field_name(Field f) {
    switch (f) {
        case Field::version:
            return "version";
        case Field::n_kv:
            return "n_kv";
        case Field::n_tensors:
            return "n_tensors";
        case Field::alignment:
            return "alignment";
        case Field::data_offset:
            return "data_offset";
        case Field::kv_key:
            return "key";
        case Field::kv_type:
            return "type";
        case Field::kv_value:
            return "value";
        case Field::kv_raw_bytes:
            return "raw_bytes_xxh64";
        case Field::tensor_name:
            return "name";
        case Field::tensor_type:
            return "type";
        case Field::tensor_dims:
            return "dims";
        case Field::tensor_offset:
            return "offset";
        case Field::tensor_size:
            return "size";
        case Field::load_n_tensors:
            return "load.n_tensors";
        case Field::load_n_vocab:
            return "load.n_vocab";
        case Field::payload:
            return "payload";
    }
    return "unknown";
}

// Walks two lists in file order. An entry present on one side only is a mismatch on its
// identifying field, null on the missing side; pairs present on both go to `both`.
template <class Entry, class FieldName, class Both>
void in_file_order(Comparer& c, const std::vector<Entry>& ours, const std::vector<Entry>& reference,
                   std::string Entry::*id, Field id_field, FieldName make_path, Both both) {
    for (std::size_t i = 0; i < std::max(ours.size(), reference.size()); ++i) {
        if (i < ours.size() && i < reference.size()) {
            both(ours[i], reference[i], i);
            continue;
        }
        const auto& present = i < ours.size() ? ours[i] : reference[i];
        const nlohmann::json present_id = present.*id;
        c.field(make_path(present, i, id_field), i < ours.size() ? present_id : nullptr,
                i < reference.size() ? present_id : nullptr);
    }
}

}  // namespace

std::string FieldPath::render() const {
    if (is_kv()) return fmt::format("kv[{}]({}).{}", index, entry, field_name(field));
    if (is_tensor()) return fmt::format("tensors[{}]({}).{}", index, entry, field_name(field));
    return std::string(field_name(field));
}

Comparison compare_descriptions(const describe::Description& ours, const describe::Description& reference) {
    Comparison out;
    Comparer c(out);
    c.field({Field::version}, ours.version, reference.version);
    c.field({Field::n_kv}, ours.n_kv, reference.n_kv);
    c.field({Field::n_tensors}, ours.n_tensors, reference.n_tensors);
    c.field({Field::alignment}, ours.alignment, reference.alignment);

    const std::uint64_t a = ours.alignment == 0 ? 1 : ours.alignment;
    const bool zero_tensor_quirk = ours.n_tensors == 0 && reference.n_tensors == 0 &&
                                   reference.data_offset < ours.data_offset &&
                                   (reference.data_offset + a - 1) / a * a == ours.data_offset;
    if (zero_tensor_quirk) {
        out.notes.push_back({NoteKind::zero_tensor_data_offset,
                             fmt::format("data_offset: 0 tensors, so ggml reports the unpadded end of the metadata "
                                         "({}) where we report it padded to the alignment ({}); a difference of "
                                         "definition, not a mismatch",
                                         reference.data_offset, ours.data_offset)});
    } else {
        c.field({Field::data_offset}, ours.data_offset, reference.data_offset);
    }

    in_file_order(c, ours.kv, reference.kv, &describe::Kv::key, Field::kv_key, kv_field,
                  [&](const describe::Kv& o, const describe::Kv& r, std::size_t i) {
                      c.field(kv_field(o, i, Field::kv_key), o.key, r.key);
                      c.field(kv_field(o, i, Field::kv_type), o.type, r.type);
                      c.field(kv_field(o, i, Field::kv_value), o.value, r.value);
                      if (o.value == r.value && o.digest != r.digest) {
                          // Same rendering, different bytes (beyond what the rendering shows): a mismatch.
                          c.field(kv_field(o, i, Field::kv_raw_bytes), fmt::format("{:016x}", o.digest),
                                  fmt::format("{:016x}", r.digest));
                      }
                  });

    in_file_order(
        c, ours.tensors, reference.tensors, &describe::Tensor::name, Field::tensor_name, tensor_field,
        [&](const describe::Tensor& o, const describe::Tensor& r, std::size_t i) {
            c.field(tensor_field(o, i, Field::tensor_name), o.name, r.name);
            c.field(tensor_field(o, i, Field::tensor_type), o.type, r.type);
            if (o.dims != r.dims && without_trailing_ones(o.dims) == without_trailing_ones(r.dims)) {
                out.notes.push_back(
                    {NoteKind::trailing_unit_dims,
                     fmt::format("{}: stored as {} dims, reported by ggml as {}: ggml drops trailing "
                                 "dimensions of size 1, a difference of definition, not a mismatch",
                                 tensor_field(o, i, Field::tensor_dims).render(), o.dims.size(), r.dims.size())});
            } else {
                c.field(tensor_field(o, i, Field::tensor_dims), o.dims, r.dims);
            }
            c.field(tensor_field(o, i, Field::tensor_offset), o.offset, r.offset);
            c.field(tensor_field(o, i, Field::tensor_size), o.size, r.size);
        });
    return out;
}

}  // namespace gguf::crossval
