// The writer: header first (every offset known ahead), then the data streamed in declaration
// order, through a temporary file renamed into place so that a reader never sees half a file.
#include <fmt/format.h>
#include <unistd.h>
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "safetensors/safetensors.hpp"

namespace gguf::safetensors {
namespace {

using Json = nlohmann::ordered_json;

struct VectorSink {
    std::vector<std::byte>& out;
    void write(std::span<const std::byte> b) { out.insert(out.end(), b.begin(), b.end()); }
};

struct FileSink {
    std::FILE* f;
    bool ok = true;
    void write(std::span<const std::byte> b) {
        if (ok && !b.empty() && std::fwrite(b.data(), 1, b.size(), f) != b.size()) ok = false;
    }
};

bool valid_utf8(std::string_view s) {
    try {
        (void)Json(std::string(s)).dump();
        return true;
    } catch (const Json::type_error&) {
        return false;
    }
}

}  // namespace

Status Writer::check_new(const std::string& name, Dtype dtype, const std::vector<std::uint64_t>& shape,
                         std::uint64_t& size) const {
    if (name.empty() || name == "__metadata__") {
        return Error{Code::invalid_argument, 0, fmt::format("'{}' cannot name a tensor", name)};
    }
    if (!valid_utf8(name)) return Error{Code::invalid_argument, 0, "a tensor name is not valid UTF-8"};
    for (const auto& e : entries_) {
        if (e.name == name) return Error{Code::duplicate_name, 0, fmt::format("tensor '{}' added twice", name)};
    }
    if (shape.size() > kMaxRank) {
        return Error{Code::invalid_argument, 0,
                     fmt::format("tensor '{}': {} dimensions, more than {}", name, shape.size(), kMaxRank)};
    }
    size = dtype_size(dtype);
    if (std::find(shape.begin(), shape.end(), 0u) != shape.end()) size = 0;
    for (auto d : shape) {
        if (size != 0 && __builtin_mul_overflow(size, d, &size)) {
            return Error{Code::shape_overflow, 0,
                         fmt::format("tensor '{}': its byte size does not fit in 64 bits", name)};
        }
    }
    return Ok{};
}

Status Writer::add(std::string name, Dtype dtype, std::vector<std::uint64_t> shape, std::span<const std::byte> data) {
    std::uint64_t size = 0;
    if (auto s = check_new(name, dtype, shape, size); !s) return s;
    if (data.size() != size) {
        return Error{Code::invalid_argument, 0,
                     fmt::format("tensor '{}': {} bytes given, its dtype and shape need {}", name, data.size(), size)};
    }
    entries_.push_back(Entry{std::move(name), dtype, std::move(shape), size, data, {}});
    return Ok{};
}

Status Writer::add_f32(std::string name, std::vector<std::uint64_t> shape, std::span<const float> data) {
    return add(std::move(name), Dtype::F32, std::move(shape), std::as_bytes(data));
}

Status Writer::add_streamed(std::string name, Dtype dtype, std::vector<std::uint64_t> shape, Fill fill) {
    std::uint64_t size = 0;
    if (auto s = check_new(name, dtype, shape, size); !s) return s;
    if (!fill) return Error{Code::invalid_argument, 0, fmt::format("tensor '{}': no fill function", name)};
    entries_.push_back(Entry{std::move(name), dtype, std::move(shape), size, {}, std::move(fill)});
    return Ok{};
}

void Writer::set_metadata(std::string key, std::string value) {
    for (auto& [k, v] : metadata_) {
        if (k == key) {
            v = std::move(value);
            return;
        }
    }
    metadata_.emplace_back(std::move(key), std::move(value));
}

// The JSON header: __metadata__ first, then the tensors in declaration order, with their data laid
// end to end; padded with spaces so that the data buffer starts at a multiple of 8 bytes.
std::string Writer::header() const {
    Json h = Json::object();
    if (!metadata_.empty()) {
        Json m = Json::object();
        for (const auto& [k, v] : metadata_) m[k] = v;
        h["__metadata__"] = std::move(m);
    }
    std::uint64_t at = 0;
    for (const auto& e : entries_) {
        h[e.name] = Json{{"dtype", dtype_name(e.dtype)}, {"shape", e.shape}, {"data_offsets", {at, at + e.size}}};
        at += e.size;
    }
    std::string text = h.dump(-1, ' ', false, Json::error_handler_t::replace);
    text.append((8 - text.size() % 8) % 8, ' ');
    return text;
}

template <class Sink>
void Writer::emit(Sink& sink) const {
    const std::string text = header();
    std::byte len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<std::byte>((text.size() >> (8 * i)) & 0xFF);
    sink.write(len);
    sink.write(std::as_bytes(std::span(text)));
    std::vector<std::byte> chunk;
    for (const auto& e : entries_) {
        if (!e.fill) {
            sink.write(e.data);
            continue;
        }
        constexpr std::uint64_t kChunk = 4u << 20;
        for (std::uint64_t off = 0; off < e.size; off += kChunk) {
            chunk.assign(static_cast<std::size_t>(std::min(kChunk, e.size - off)), std::byte{0});
            e.fill(off, chunk);
            sink.write(chunk);
        }
    }
}

std::vector<std::byte> Writer::to_bytes() const {
    std::vector<std::byte> out;
    VectorSink sink{out};
    emit(sink);
    return out;
}

Status Writer::write_file(const std::filesystem::path& path) const {
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
        return Error{Code::io_error, 0,
                     fmt::format("cannot create directory '{}': {}", path.parent_path().string(), ec.message())};
    }
    const auto tmp = path.string() + fmt::format(".tmp.{}", ::getpid());
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (f == nullptr) return Error{Code::io_error, 0, fmt::format("cannot write '{}'", tmp)};
    FileSink sink{f};
    emit(sink);
    const bool ok = sink.ok && std::fclose(f) == 0;
    if (!ok) {
        std::filesystem::remove(tmp, ec);
        return Error{Code::io_error, 0, fmt::format("failed writing '{}'", path.string())};
    }
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::filesystem::remove(tmp, ec);
        return Error{Code::io_error, 0, fmt::format("cannot rename to '{}': {}", path.string(), ec.message())};
    }
    return Ok{};
}

}  // namespace gguf::safetensors
