// Comparing two parsed files: header fields, key-values and tensor infos matched by name, and the
// tensor data by hash, then by value where it differs.
#include <fmt/format.h>
#include <algorithm>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "describe/description.hpp"
#include "diff/diff.hpp"

namespace gguf::diff {
namespace {

Header header_of(const std::filesystem::path& path, const File& f) {
    return Header{path.string(),   f.version(),        f.byte_swapped(),
                  f.kvs().size(),  f.tensors().size(), f.alignment(),
                  f.data_offset(), f.file_size(),      {}};
}

std::vector<HeaderChange> compare_headers(const Header& a, const Header& b) {
    std::vector<HeaderChange> out;
    auto field = [&](std::string_view name, const nlohmann::json& x, const nlohmann::json& y) {
        if (x != y) out.push_back({std::string(name), x, y});
    };
    field("version", a.version, b.version);
    field("byte_order", a.big_endian ? "big" : "little", b.big_endian ? "big" : "little");
    field("n_kv", a.n_kv, b.n_kv);
    field("n_tensors", a.n_tensors, b.n_tensors);
    field("alignment", a.alignment, b.alignment);
    field("data_offset", a.data_offset, b.data_offset);
    field("file_size", a.file_size, b.file_size);
    return out;
}

KvEntry kv_entry(const KeyValue& kv) {
    auto d = describe::describe_kv(kv.key, kv.value);
    return {std::move(d.key), std::move(d.type), std::move(d.value)};
}

// Two values are the same when their types are and their encodings are: byte for byte when both are
// stored in the same order, else by the xxh64 of the canonical (little-endian) encoding.
bool same_value(const KeyValue& x, const KeyValue& y) {
    if (x.value.type() != y.value.type()) return false;
    if (x.value.swapped() == y.value.swapped()) {
        const auto p = x.value.payload(), q = y.value.payload();
        return std::equal(p.begin(), p.end(), q.begin(), q.end());
    }
    return describe::describe_kv(x.key, x.value).digest == describe::describe_kv(y.key, y.value).digest;
}

TensorEntry tensor_entry(const TensorInfo& t) {
    return {describe::render_string(t.name), std::string(t.traits.name),
            std::vector<std::uint64_t>(t.dims().begin(), t.dims().end()), t.offset, t.size};
}

template <class T, class Name>
std::unordered_map<std::string_view, const T*> index_by(const std::vector<T>& items, Name name) {
    std::unordered_map<std::string_view, const T*> out;
    out.reserve(items.size());
    for (const auto& i : items) out.emplace(name(i), &i);
    return out;
}

void compare_kvs(const File& fa, const File& fb, Diff& d) {
    const auto in_a = index_by(fa.kvs(), [](const KeyValue& kv) { return kv.key; });
    const auto in_b = index_by(fb.kvs(), [](const KeyValue& kv) { return kv.key; });
    for (const auto& kv : fa.kvs()) {
        const auto it = in_b.find(kv.key);
        if (it == in_b.end())
            d.kv_removed.push_back(kv_entry(kv));
        else if (!same_value(kv, *it->second))
            d.kv_changed.push_back({describe::render_string(kv.key), kv_entry(kv), kv_entry(*it->second)});
    }
    for (const auto& kv : fb.kvs()) {
        if (!in_a.contains(kv.key)) d.kv_added.push_back(kv_entry(kv));
    }
}

std::vector<std::string> changed_fields(const TensorInfo& x, const TensorInfo& y) {
    std::vector<std::string> out;
    if (x.type != y.type) out.emplace_back("type");
    if (!std::ranges::equal(x.dims(), y.dims())) out.emplace_back("dims");
    if (x.offset != y.offset) out.emplace_back("offset");
    if (x.size != y.size) out.emplace_back("size");
    return out;
}

// The XXH3-64 of every tensor of `f`, and the file's SHA-256, in one streaming pass.
Result<RangeHashes> hash_tensors(const std::filesystem::path& path, const File& f, const HashOptions& options) {
    std::vector<ByteRange> ranges;
    ranges.reserve(f.tensors().size());
    for (const auto& t : f.tensors()) ranges.push_back({f.data_offset() + t.offset, t.size});
    auto h = hash_file(path, ranges, options);
    if (!h) return h.error();
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        if (!h->xxh3[i]) {
            return Error{Code::io_error, ranges[i].offset,
                         fmt::format("'{}' ends before the data of tensor '{}' it held when parsed: the file changed "
                                     "while being compared",
                                     path.string(), describe::render_string(f.tensors()[i].name))};
        }
    }
    return h;
}

// Why the values of two tensors whose data differ are not compared, or "" when they are.
std::string skip_reason(const File& fa, const TensorInfo& ta, const File& fb, const TensorInfo& tb,
                        const Options& options) {
    if (!options.values) return "value comparison switched off";
    if (!std::ranges::equal(ta.dims(), tb.dims())) return "the shapes differ";
    if (fa.byte_swapped() || fb.byte_swapped()) {
        return "a big-endian file: the format does not fix the byte order of its tensor data";
    }
    return "";
}

}  // namespace

bool Diff::identical() const {
    return header.empty() && kv_added.empty() && kv_removed.empty() && kv_changed.empty() && tensors_added.empty() &&
           tensors_removed.empty() && tensors_changed.empty() && data_differing() == 0;
}

std::size_t Diff::data_differing() const {
    return static_cast<std::size_t>(std::ranges::count_if(data, [](const TensorData& t) { return !t.bytes_equal; }));
}

Result<Diff, DiffError> diff_files(const std::filesystem::path& path_a, const File& fa,
                                   const std::filesystem::path& path_b, const File& fb, const Options& options) {
    Diff d;
    d.a = header_of(path_a, fa);
    d.b = header_of(path_b, fb);
    d.header = compare_headers(d.a, d.b);
    compare_kvs(fa, fb, d);

    auto ha = hash_tensors(path_a, fa, options.hash);
    if (!ha) return DiffError{'A', ha.error()};
    auto hb = hash_tensors(path_b, fb, options.hash);
    if (!hb) return DiffError{'B', hb.error()};
    d.a.sha256 = ha->sha256;
    d.b.sha256 = hb->sha256;

    std::unordered_map<std::string_view, std::size_t> in_b;
    for (std::size_t i = 0; i < fb.tensors().size(); ++i) in_b.emplace(fb.tensors()[i].name, i);
    std::unordered_set<std::string_view> in_a;
    for (std::size_t i = 0; i < fa.tensors().size(); ++i) {
        const auto& ta = fa.tensors()[i];
        in_a.insert(ta.name);
        const auto it = in_b.find(ta.name);
        if (it == in_b.end()) {
            d.tensors_removed.push_back(tensor_entry(ta));
            continue;
        }
        const auto& tb = fb.tensors()[it->second];
        if (auto fields = changed_fields(ta, tb); !fields.empty()) {
            d.tensors_changed.push_back(
                {describe::render_string(ta.name), std::move(fields), tensor_entry(ta), tensor_entry(tb)});
        }
        TensorData td{
            describe::render_string(ta.name), *ha->xxh3[i], *hb->xxh3[it->second], ta.size, tb.size, false, {}, {}};
        td.bytes_equal = td.size_a == td.size_b && td.xxh3_a == td.xxh3_b;
        // Equal bytes of another type are other values (an I16 and an F16 tensor of the same bits).
        if (!td.bytes_equal || ta.type != tb.type) {
            td.values_skipped = skip_reason(fa, ta, fb, tb, options);
            if (td.values_skipped.empty()) {
                auto v = compare_values(path_a, fa, ta, path_b, fb, tb, options);
                if (v)
                    td.values = std::move(*v);
                else if (v.error().error.code == Code::io_error)
                    return v.error();
                else
                    td.values_skipped = fmt::format("file {}: [{}] {}", v.error().file, code_name(v.error().error.code),
                                                    v.error().error.message);
            }
        }
        d.data.push_back(std::move(td));
    }
    for (const auto& tb : fb.tensors()) {
        if (!in_a.contains(tb.name)) d.tensors_added.push_back(tensor_entry(tb));
    }
    return d;
}

}  // namespace gguf::diff
