// The GGUF writer. It emits exactly what ggml's writer emits: header, KVs in insertion order,
// tensor infos, zero padding to the alignment, then each tensor's data padded to the alignment.
// Counts and offsets go out as placeholders and are patched once the content behind them exists.
#include <fmt/format.h>
#include <unistd.h>

#include "gguf/reader.hpp"
#include "gguf/types.hpp"
#include "gguf/writer.hpp"
#include "util/atomic_file.hpp"
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

// Streams the file to a descriptor, buffering small writes; patches are written in place (pwrite).
struct FileSink {
    int fd;
    std::uint64_t pos = 0;
    bool ok = true;
    std::vector<std::byte> buffer{};
    static constexpr std::size_t kBuffer = 1 << 16;
    ~FileSink() { flush(); }
    std::uint64_t position() const { return pos; }
    bool flush() {
        ok = ok && util::write_all(fd, buffer.data(), buffer.size());
        buffer.clear();
        return ok;
    }
    bool write(std::span<const std::byte> b) {
        pos += b.size();
        if (buffer.size() + b.size() > kBuffer) flush();
        if (b.size() >= kBuffer) return ok = ok && util::write_all(fd, b.data(), b.size());
        buffer.insert(buffer.end(), b.begin(), b.end());
        return ok;
    }
    bool patch(std::uint64_t at, std::span<const std::byte> b) {
        ok = flush() && ::pwrite(fd, b.data(), b.size(), static_cast<off_t>(at)) == static_cast<ssize_t>(b.size());
        return ok;
    }
};

std::uint64_t pad_to(std::uint64_t n, std::uint64_t a) {
    return (n + a - 1) / a * a;
}

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
    const auto failed = util::write_file(path, [this](const util::WriteTarget& t) {
        if (!t.seekable) {  // a pipe or a device: no patching the counts afterwards, so build in memory
            const auto bytes = to_bytes();
            return util::write_all(t.fd, bytes.data(), bytes.size());
        }
        FileSink sink{t.fd};
        emit(sink);
        return sink.flush();
    });
    if (failed) return Error{Code::io_error, 0, failed->message};
    return Ok{};
}

}  // namespace gguf
