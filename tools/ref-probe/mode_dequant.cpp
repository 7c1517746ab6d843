// Mode `dequant`: ggml's own to_float on every tensor of a file, for bit comparison with our
// dequantizers (include/gguf/data/quantize.hpp).
//
//   dequant FILE --output PATH
//
// The header is read with gguf_init_from_file (no_alloc, no context); each tensor's bytes are read
// from data_offset + tensor offset and turned to f32 by ggml_get_type_traits(type)->to_float, in
// runs of whole blocks so that memory stays bounded. PATH receives the f32 values of every tensor,
// little-endian, concatenated in tensor order. Per tensor the JSON gives name (hex), type id,
// element count, "to_float" (false when ggml has none for the type: nothing is written for it) and
// "f32_offset" (where its values start in PATH, in floats). F32 tensors have no to_float in ggml:
// their bytes are copied, and "copied" says so.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "compat.hpp"  // gguf.h where the release has one (bitnet.cpp's fork declares gguf_* in ggml.h)
#include "ggml.h"
#include "probe.hpp"

namespace probe {
namespace {

struct FileCloser {
    std::FILE* f;
    ~FileCloser() {
        if (f) std::fclose(f);
    }
};

}  // namespace

bool mode_dequant(const Args& args, Json& out, std::string& error) {
    const auto output = args.option("output");
    if (!args.file || !output) {
        error = "mode dequant needs FILE and --output PATH";
        return false;
    }
    const compat::GgufHeader header(args.file->c_str());
    const gguf_context* ctx = header.get();
    if (ctx == nullptr) {
        error = "gguf_init_from_file failed";
        return false;
    }
    FileCloser in{std::fopen(args.file->c_str(), "rb")};
    FileCloser dst{std::fopen(output->c_str(), "wb")};
    if (in.f == nullptr || dst.f == nullptr) {
        error = in.f == nullptr ? "cannot open the model file" : "cannot create the output file";
        return false;
    }
    const std::size_t data_offset = gguf_get_data_offset(ctx);
    const std::int64_t n_tensors = gguf_get_n_tensors(ctx);
    std::vector<unsigned char> bytes;
    std::vector<float> values;
    std::uint64_t f32_written = 0;
    bool ok = true;
    out.key("tensors").begin_array();
    for (std::int64_t i = 0; i < n_tensors && ok; ++i) {
        const ggml_type type = gguf_get_tensor_type(ctx, i);
        const std::size_t size = header.size(i);
        const std::size_t offset = data_offset + gguf_get_tensor_offset(ctx, i);
        const std::size_t type_size = ggml_type_size(type);
        const std::int64_t block = ggml_blck_size(type);
        const std::uint64_t n_blocks = type_size ? size / type_size : 0;
        // From the shape: the byte size over the type size counts elements only for block types
        // (bitnet.cpp's I2_S has a block of 1 byte and a per-tensor scale after the codes).
        std::uint64_t n_elements = n_blocks * static_cast<std::uint64_t>(block);
        if (const std::int64_t* ne = header.ne(i)) {
            n_elements = 1;
            for (int d = 0; d < GGML_MAX_DIMS; ++d) n_elements *= static_cast<std::uint64_t>(ne[d]);
        }
        const ggml_to_float_t to_float = compat::to_float(type);
        const bool copy = type == GGML_TYPE_F32;
        out.begin_object();
        out.field("name", hex(gguf_get_tensor_name(ctx, i)));
        out.field("type", static_cast<int>(type));
        out.field("n_elements", n_elements);
        out.field("to_float", to_float != nullptr || copy);
        out.field("copied", copy);
        out.field("f32_offset", f32_written);
        if (to_float != nullptr || copy) {
            // Runs of at most 1 MiB of source bytes, always whole blocks.
            const std::uint64_t blocks_per_run =
                type_size ? std::max<std::uint64_t>(1, (std::uint64_t{1} << 20) / type_size) : 0;
            if (std::fseek(in.f, static_cast<long>(offset), SEEK_SET) != 0) {
                error = "cannot seek to the data of tensor " + std::to_string(i);
                ok = false;
            }
            for (std::uint64_t done = 0; ok && done < n_blocks;) {
                const std::uint64_t run = std::min(blocks_per_run, n_blocks - done);
                bytes.resize(run * type_size);
                if (std::fread(bytes.data(), 1, bytes.size(), in.f) != bytes.size()) {
                    error = "tensor " + std::to_string(i) + " data runs past the end of the file";
                    ok = false;
                    break;
                }
                values.resize(run * static_cast<std::uint64_t>(block));
                if (copy) {
                    std::memcpy(values.data(), bytes.data(), bytes.size());
                } else {
                    to_float(bytes.data(), values.data(), static_cast<std::int64_t>(values.size()));
                }
                if (std::fwrite(values.data(), sizeof(float), values.size(), dst.f) != values.size()) {
                    error = "cannot write the output file";
                    ok = false;
                    break;
                }
                f32_written += values.size();
                done += run;
            }
        }
        out.end_object();
    }
    out.end_array();
    if (!ok) return false;
    out.field("n_tensors", n_tensors);
    out.field("f32_count", f32_written);
    out.field("output", *output);
    return true;
}

}  // namespace probe
