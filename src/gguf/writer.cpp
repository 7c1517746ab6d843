// The GGUF writer. It emits exactly what ggml's writer emits: header, KVs in insertion order,
// tensor infos, zero padding to the alignment, then each tensor's data padded to the alignment.
// Counts and offsets go out as placeholders and are patched once the content behind them exists.
#include <cstdio>
#include <fmt/format.h>
#include <unistd.h>

#include "gguf/reader.hpp"
#include "gguf/types.hpp"
#include "gguf/writer.hpp"
#include "wire.hpp"

namespace gguf {
namespace {

// Collects the file in memory.
struct VectorSink {
    std::vector<std::byte>& out;
    std::uint64_t position() const { return out.size(); }
    bool write(std::span<const std::byte> b) {
        out.insert(out.end(), b.begin(), b.end());
        return true;
    }
    bool patch(std::uint64_t at, std::span<const std::byte> b) {
        std::copy(b.begin(), b.end(), out.begin() + static_cast<std::ptrdiff_t>(at));
        return true;
    }
};

// Streams the file to disk, buffering small writes; patches seek back.
struct FileSink {
    std::FILE* f;
    std::uint64_t pos = 0;
    bool ok = true;
    std::uint64_t position() const { return pos; }
    bool write(std::span<const std::byte> b) {
        if (b.empty()) return ok;  // an empty span may have a null data(): fwrite's argument must not be null
        ok = ok && std::fwrite(b.data(), 1, b.size(), f) == b.size();
        pos += b.size();
        return ok;
    }
    bool patch(std::uint64_t at, std::span<const std::byte> b) {
        ok = ok && std::fflush(f) == 0 && pwrite(fileno(f), b.data(), b.size(), static_cast<off_t>(at)) ==
                                              static_cast<ssize_t>(b.size());
        return ok;
    }
};

std::uint64_t pad_to(std::uint64_t n, std::uint64_t a) { return (n + a - 1) / a * a; }

}  // namespace

Writer::Writer(WriterOptions options) : options_(options) {}

void Writer::add(std::string key, Value value) {
    if (key == "general.alignment" && value.type() == ValueType::uint32 && value.bits() != 0 &&
        (value.bits() & (value.bits() - 1)) == 0) {
        alignment_ = static_cast<std::uint32_t>(value.bits());
    }
    kvs_.emplace_back(std::move(key), std::move(value));
}

namespace {

Result<std::uint64_t> checked_size(std::uint32_t type, const std::vector<std::uint64_t>& dims) {
    auto traits = ggml_type(type);
    if (type == kTypeI2S) traits = i2_s_traits();
    if (!traits || traits->removed) {
        return Error{Code::invalid_tensor_type, 0, fmt::format("tensor type {} cannot be written", type)};
    }
    auto size = tensor_nbytes(*traits, dims);
    if (!size) {
        return Error{Code::shape_overflow, 0,
                     fmt::format("shape does not fit type {}: overflow or rows not a multiple of {}", traits->name,
                                 traits->block_size)};
    }
    return *size;
}

}  // namespace

Status Writer::add_tensor(std::string name, std::uint32_t type, std::vector<std::uint64_t> dims,
                          std::vector<std::byte> data) {
    auto size = checked_size(type, dims);
    if (!size) return size.error();
    if (*size != data.size()) {
        return Error{Code::tensor_data_out_of_bounds, 0,
                     fmt::format("tensor '{}' needs {} bytes of data, {} given", name, *size, data.size())};
    }
    tensors_.push_back({std::move(name), type, std::move(dims), *size, std::move(data), nullptr});
    return Ok{};
}

Status Writer::add_tensor(std::string name, std::uint32_t type, std::vector<std::uint64_t> dims, Fill fill) {
    auto size = checked_size(type, dims);
    if (!size) return size.error();
    tensors_.push_back({std::move(name), type, std::move(dims), *size, {}, std::move(fill)});
    return Ok{};
}

template <class Sink>
void Writer::emit(Sink& sink) const {
    const bool be = options_.big_endian;
    std::vector<std::byte> buf;
    auto flush = [&] {
        sink.write(buf);
        buf.clear();
    };
    auto u64_bytes = [&](std::uint64_t v) {
        std::vector<std::byte> b;
        wire::append<std::uint64_t>(b, v, be);
        return b;
    };

    buf.insert(buf.end(), {std::byte{'G'}, std::byte{'G'}, std::byte{'U'}, std::byte{'F'}});
    wire::append<std::uint32_t>(buf, options_.version, be);
    const std::uint64_t counts_at = sink.position() + buf.size();
    wire::append<std::uint64_t>(buf, 0, be);  // n_tensors, patched below
    wire::append<std::uint64_t>(buf, 0, be);  // n_kv, patched below

    std::uint64_t n_kv = 0;
    for (const auto& [key, value] : kvs_) {
        Value::string(key).encode(buf, be);
        wire::append<std::uint32_t>(buf, static_cast<std::uint32_t>(value.type()), be);
        value.encode(buf, be);
        ++n_kv;
        if (buf.size() > (1u << 20)) flush();
    }

    std::vector<std::uint64_t> offset_at;  // where each tensor's offset field sits
    std::uint64_t n_tensors = 0;
    for (const auto& t : tensors_) {
        Value::string(t.name).encode(buf, be);
        wire::append<std::uint32_t>(buf, static_cast<std::uint32_t>(t.dims.size()), be);
        for (auto d : t.dims) wire::append<std::uint64_t>(buf, d, be);
        wire::append<std::uint32_t>(buf, t.type, be);
        offset_at.push_back(sink.position() + buf.size());
        wire::append<std::uint64_t>(buf, 0, be);  // offset, patched below
        ++n_tensors;
        if (buf.size() > (1u << 20)) flush();
    }
    buf.resize(buf.size() + (pad_to(sink.position() + buf.size(), alignment_) - sink.position() - buf.size()));
    flush();

    const std::uint64_t data_start = sink.position();
    std::vector<std::byte> chunk;
    for (std::size_t i = 0; i < tensors_.size(); ++i) {
        const auto& t = tensors_[i];
        sink.patch(offset_at[i], u64_bytes(sink.position() - data_start));
        if (t.fill) {
            constexpr std::uint64_t kChunk = 4u << 20;
            for (std::uint64_t off = 0; off < t.size; off += kChunk) {
                chunk.resize(static_cast<std::size_t>(std::min(kChunk, t.size - off)));
                t.fill(off, chunk);
                sink.write(chunk);
            }
        } else {
            sink.write(t.data);
        }
        const auto pad = pad_to(t.size, alignment_) - t.size;
        chunk.assign(static_cast<std::size_t>(pad), std::byte{0});
        sink.write(chunk);
    }
    sink.patch(counts_at, u64_bytes(n_tensors));
    sink.patch(counts_at + 8, u64_bytes(n_kv));
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
    if (ec) return Error{Code::io_error, 0, fmt::format("cannot rename to '{}': {}", path.string(), ec.message())};
    return Ok{};
}

}  // namespace gguf
