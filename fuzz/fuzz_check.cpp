// Walking a parsed file through the public API, with the reader's promises as checks.
#include "fuzz_check.hpp"

#include <algorithm>
#include <set>
#include <string>

namespace fuzz {
namespace {

bool inside(gguf::Bytes part, gguf::Bytes whole) {
    if (part.empty()) return true;
    return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

void walk_value(const gguf::ValueView& v, gguf::Bytes input, unsigned depth) {
    FUZZ_CHECK(depth <= gguf::kMaxArrayDepth);
    FUZZ_CHECK(inside(v.payload(), input));
    FUZZ_CHECK(gguf::is_valid_value_type(static_cast<std::uint32_t>(v.type())));
    volatile std::uint64_t sink = v.bits() ^ v.as_uint() ^ static_cast<std::uint64_t>(v.as_int());
    (void)sink;
    volatile double f = v.as_float();
    (void)f;
    volatile bool b = v.as_bool();
    (void)b;
    if (v.type() == gguf::ValueType::boolean) FUZZ_CHECK(v.bits() <= 1);
    if (v.type() == gguf::ValueType::string) {
        const auto s = v.as_string();
        FUZZ_CHECK(s.size() + 8 == v.payload().size());
        FUZZ_CHECK(inside({reinterpret_cast<const std::byte*>(s.data()), s.size()}, input));
    }
    if (v.type() != gguf::ValueType::array) return;
    const auto a = v.as_array();
    FUZZ_CHECK(inside(a.elements(), input));
    std::uint64_t n = 0;
    for (auto item : a) {
        walk_value(item, input, depth + 1);
        ++n;
    }
    FUZZ_CHECK(n == a.size());
    const auto size = gguf::value_type_size(a.elem_type());
    if (size != 0) {
        FUZZ_CHECK(a.elements().size() == a.size() * size);
        if (a.size() > 0) walk_value(a.at(a.size() - 1), input, depth + 1);
    }
    const auto canonical = a.canonical_bytes();
    FUZZ_CHECK(canonical.size() == a.elements().size());
}

}  // namespace

void walk_file(const gguf::File& file, gguf::Bytes input) {
    FUZZ_CHECK(file.version() == 2 || file.version() == 3);
    const std::uint64_t a = file.alignment();
    FUZZ_CHECK(a != 0 && (a & (a - 1)) == 0);
    FUZZ_CHECK(file.file_size() == input.size());
    FUZZ_CHECK(file.metadata_end() <= input.size());
    FUZZ_CHECK(file.data_offset() >= file.metadata_end() && file.data_offset() % a == 0);
    FUZZ_CHECK(file.data_offset() - file.metadata_end() < a);
    std::set<std::string> keys;
    for (const auto& kv : file.kvs()) {
        FUZZ_CHECK(!kv.key.empty());
        FUZZ_CHECK(keys.insert(std::string(kv.key)).second);
        FUZZ_CHECK(kv.offset < file.metadata_end());
        walk_value(kv.value, input, 0);
        FUZZ_CHECK(file.find(kv.key) == &kv);
    }
    std::set<std::string> names;
    for (const auto& t : file.tensors()) {
        FUZZ_CHECK(t.name.size() <= gguf::kMaxTensorName);
        FUZZ_CHECK(names.insert(std::string(t.name)).second);
        FUZZ_CHECK(t.n_dims <= gguf::kMaxDims);
        FUZZ_CHECK(t.offset % a == 0);
        FUZZ_CHECK(t.data.size() == t.size);
        FUZZ_CHECK(inside(t.data, input));
        if (t.size != 0) {
            FUZZ_CHECK(t.data.data() == input.data() + file.data_offset() + t.offset);
            FUZZ_CHECK(file.data_offset() + t.offset + t.size <= file.data_end());
        }
        const auto size = gguf::tensor_nbytes(t.traits, t.dims());
        FUZZ_CHECK(size && *size == t.size);
        FUZZ_CHECK(file.find_tensor(t.name) == &t);
    }
    FUZZ_CHECK(file.data_end() <= input.size());
    // No two tensors with data share a byte.
    std::vector<const gguf::TensorInfo*> order;
    for (const auto& t : file.tensors()) {
        if (t.size != 0) order.push_back(&t);
    }
    std::sort(order.begin(), order.end(), [](auto* x, auto* y) { return x->offset < y->offset; });
    for (std::size_t i = 1; i < order.size(); ++i)
        FUZZ_CHECK(order[i - 1]->offset + order[i - 1]->size <= order[i]->offset);
    for (const auto& w : file.warnings()) {
        FUZZ_CHECK(gguf::is_warning(w.code));
        FUZZ_CHECK(!w.message.empty());
    }
}

void check_error(const gguf::Error& error, gguf::Bytes input) {
    FUZZ_CHECK(!gguf::is_warning(error.code));
    FUZZ_CHECK(error.code != gguf::Code::io_error);
    FUZZ_CHECK(!error.message.empty());
    FUZZ_CHECK(error.offset <= input.size());
    FUZZ_CHECK(gguf::code_name(error.code) != "unknown");
}

}  // namespace fuzz
