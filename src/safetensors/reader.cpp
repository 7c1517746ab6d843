// The reader: every size and offset of an untrusted file is checked before it is used.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "safetensors/safetensors.hpp"

namespace gguf::safetensors {
// Run before the parser sees the text, so that no input can make parsing (or destroying the parsed
// value) recurse deeply.
std::optional<std::size_t> json_too_deep_at(std::string_view text, int max_depth) {
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"')
            in_string = true;
        else if (c == '{' || c == '[') {
            if (++depth > max_depth) return i;
        } else if (c == '}' || c == ']') {
            --depth;
        }
    }
    return std::nullopt;
}

namespace {

using Json = nlohmann::ordered_json;

bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
    return !__builtin_mul_overflow(a, b, &out);
}

// The entry's field names.
constexpr const char* kDtype = "dtype";
constexpr const char* kShape = "shape";
constexpr const char* kOffsets = "data_offsets";

// One header entry -> Tensor (data not yet attached). `at` is the header's file offset.
Result<Tensor> parse_entry(const std::string& name, const Json& v, std::uint64_t at) {
    auto bad = [&](std::string_view what) {
        return Error{Code::invalid_entry, at, fmt::format("tensor '{}': {}", name, what)};
    };
    if (!v.is_object()) return bad("the entry is not an object");
    const auto dt = v.find(kDtype);
    const auto sh = v.find(kShape);
    const auto of = v.find(kOffsets);
    if (dt == v.end() || !dt->is_string()) return bad("\"dtype\" is missing or not a string");
    if (sh == v.end() || !sh->is_array()) return bad("\"shape\" is missing or not an array");
    if (of == v.end() || !of->is_array() || of->size() != 2)
        return bad("\"data_offsets\" is not an array [begin, end]");
    Tensor t;
    t.name = name;
    const auto dtype = dtype_from_name(dt->get_ref<const std::string&>());
    if (!dtype) {
        return Error{Code::unknown_dtype, at,
                     fmt::format("tensor '{}': unknown dtype \"{}\"", name, dt->get_ref<const std::string&>())};
    }
    t.dtype = *dtype;
    if (sh->size() > kMaxRank) return bad(fmt::format("{} dimensions, more than {}", sh->size(), kMaxRank));
    std::uint64_t bytes = dtype_size(t.dtype);
    for (const auto& d : *sh) {
        if (!d.is_number_unsigned()) return bad("a dimension of \"shape\" is not a non-negative integer");
        t.shape.push_back(d.get<std::uint64_t>());
    }
    // A zero dimension makes the tensor empty, whatever the others: test it first so that
    // [0, 2^40, 2^40] is not reported as an overflow.
    const bool empty = std::find(t.shape.begin(), t.shape.end(), 0u) != t.shape.end();
    if (empty) bytes = 0;
    for (auto d : t.shape) {
        if (!empty && !checked_mul(bytes, d, bytes)) {
            return Error{Code::shape_overflow, at,
                         fmt::format("tensor '{}': the byte size of its shape does not fit in 64 bits", name)};
        }
    }
    for (int k = 0; k < 2; ++k) {
        if (!(*of)[k].is_number_unsigned())
            return bad("\"data_offsets\" holds something other than non-negative integers");
    }
    t.begin = (*of)[0].get<std::uint64_t>();
    t.end = (*of)[1].get<std::uint64_t>();
    if (t.end < t.begin) {
        return Error{Code::out_of_bounds, at,
                     fmt::format("tensor '{}': data_offsets end {} is before begin {}", name, t.end, t.begin)};
    }
    if (t.end - t.begin != bytes) {
        return Error{Code::size_mismatch, at,
                     fmt::format("tensor '{}': data_offsets span {} bytes, its dtype and shape need {}", name,
                                 t.end - t.begin, bytes)};
    }
    return t;
}

}  // namespace

Result<File> parse(std::span<const std::byte> bytes) {
    if (bytes.size() < 8) {
        return Error{Code::truncated, 0, fmt::format("{} bytes: too short for the 8-byte header length", bytes.size())};
    }
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<std::uint8_t>(bytes[static_cast<std::size_t>(i)]);
    if (n > kMaxHeaderBytes) {
        return Error{Code::header_too_large, 0,
                     fmt::format("header length {} exceeds the limit of {} bytes", n, kMaxHeaderBytes)};
    }
    if (n > bytes.size() - 8) {
        return Error{Code::truncated, 0,
                     fmt::format("header length {} runs past the end of the file ({} bytes)", n, bytes.size())};
    }
    const std::string_view text(reinterpret_cast<const char*>(bytes.data()) + 8, static_cast<std::size_t>(n));
    if (auto at = json_too_deep_at(text, kMaxJsonDepth)) {
        return Error{Code::header_too_deep, 8 + *at,
                     fmt::format("the header JSON nests deeper than {} levels", kMaxJsonDepth)};
    }

    // Duplicate top-level keys would silently collapse into one in the parsed object: catch them
    // while parsing.
    std::set<std::string> seen;
    std::optional<std::string> duplicate;
    auto on_event = [&](int depth, Json::parse_event_t event, Json& parsed) {
        if (event == Json::parse_event_t::key && depth == 1 && !duplicate) {
            auto key = parsed.get<std::string>();
            if (!seen.insert(key).second) duplicate = std::move(key);
        }
        return true;
    };
    Json header;
    try {
        header = Json::parse(text.begin(), text.end(), on_event);
    } catch (const Json::parse_error& e) {
        return Error{Code::invalid_json, 8 + (e.byte > 0 ? e.byte - 1 : 0),
                     fmt::format("the header is not valid JSON: {}", e.what())};
    }
    if (!header.is_object()) return Error{Code::invalid_json, 8, "the header is not a JSON object"};
    if (duplicate)
        return Error{Code::duplicate_name, 8, fmt::format("tensor '{}' appears twice in the header", *duplicate)};

    File file;
    file.header_size = n;
    file.data_start = 8 + n;
    const std::uint64_t buffer = bytes.size() - file.data_start;
    for (const auto& [name, value] : header.items()) {
        if (name == "__metadata__") {
            if (!value.is_object()) return Error{Code::invalid_metadata, 8, "__metadata__ is not an object"};
            for (const auto& [k, v] : value.items()) {
                if (!v.is_string()) {
                    return Error{Code::invalid_metadata, 8,
                                 fmt::format("__metadata__ value of '{}' is not a string", k)};
                }
                file.metadata.emplace_back(k, v.get<std::string>());
            }
            continue;
        }
        if (name.empty()) return Error{Code::empty_name, 8, "a tensor has an empty name"};
        auto t = parse_entry(name, value, 8);
        if (!t) return t.error();
        if (t->end > buffer) {
            return Error{Code::out_of_bounds, file.data_start + t->begin,
                         fmt::format("tensor '{}': data_offsets [{}, {}] run past the data buffer of {} bytes", name,
                                     t->begin, t->end, buffer)};
        }
        t->data = bytes.subspan(static_cast<std::size_t>(file.data_start + t->begin),
                                static_cast<std::size_t>(t->end - t->begin));
        file.tensors.push_back(std::move(*t));
    }

    // No two non-empty ranges may intersect: walk them by start, remembering the furthest end.
    std::vector<const Tensor*> by_begin;
    for (const auto& t : file.tensors) {
        if (t.end > t.begin) by_begin.push_back(&t);
    }
    std::sort(by_begin.begin(), by_begin.end(), [](const Tensor* a, const Tensor* b) { return a->begin < b->begin; });
    const Tensor* furthest = nullptr;
    for (const Tensor* t : by_begin) {
        if (furthest != nullptr && t->begin < furthest->end) {
            return Error{Code::tensors_overlap, file.data_start + t->begin,
                         fmt::format("tensors '{}' [{}, {}] and '{}' [{}, {}] overlap", furthest->name, furthest->begin,
                                     furthest->end, t->name, t->begin, t->end)};
        }
        if (furthest == nullptr || t->end > furthest->end) furthest = t;
    }
    return file;
}

namespace {

struct Mapping {
    void* addr = nullptr;
    std::size_t size = 0;
    ~Mapping() {
        if (addr != nullptr) munmap(addr, size);
    }
};

Error io_error(const std::filesystem::path& path, std::string_view what) {
    return Error{Code::io_error, 0, fmt::format("cannot {} '{}': {}", what, path.string(), std::strerror(errno))};
}

}  // namespace

Result<File> open(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_error(path, "open");
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        auto e = io_error(path, "stat");
        ::close(fd);
        return e;
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return Error{Code::io_error, 0, fmt::format("'{}' is not a regular file", path.string())};
    }
    auto mapping = std::make_shared<Mapping>();
    mapping->size = static_cast<std::size_t>(st.st_size);
    if (mapping->size > 0) {
        void* addr = mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (addr == MAP_FAILED) {
            auto e = io_error(path, "map");
            ::close(fd);
            return e;
        }
        mapping->addr = addr;
    }
    ::close(fd);
    auto file = parse({static_cast<const std::byte*>(mapping->addr), mapping->size});
    if (!file) {
        auto e = file.error();
        e.message = path.string() + ": " + e.message;
        return e;
    }
    file->owner_ = mapping;
    return file;
}

const Tensor* File::find(std::string_view name) const {
    for (const auto& t : tensors) {
        if (t.name == name) return &t;
    }
    return nullptr;
}

std::optional<std::string_view> File::meta(std::string_view key) const {
    for (const auto& [k, v] : metadata) {
        if (k == key) return std::string_view(v);
    }
    return std::nullopt;
}

}  // namespace gguf::safetensors
