// Mode `kernel_dequant`: the values of one 2-D tensor as the reference's own CPU matrix kernel sees
// them, for a bit-for-bit comparison with our dequantizer (include/gguf/data/quantize.hpp).
//
//   kernel_dequant FILE --tensor NAME [--libdir D]
//
// bitnet.cpp's I2_S has no to_float in the ggml type traits: its kernels read the 2-bit codes
// directly. So the tensor W [K, M] (rows of K) is multiplied, on the CPU backend with one thread, by
// the K x K identity: ggml_mul_mat(W, I)[j][i] = row i of W times unit vector e_j = W[i][j].
// For I2_S that is exact by construction: the kernel quantizes each e_j to int8 with scale 127/1
// (q = 127 at j, 0 elsewhere, sum 127) and computes (dot - sum) / 127 * scale = (code - 1) * scale,
// every step exact in f32. For block types whose activations are quantized with an inexact scale
// (Q8_0 rounds 1/127 to f16) it is not; there the type's to_float is the reference, and this mode
// also reports it when the traits have one ("to_float_bits").
//
// The tensor's bytes are read from the file at data offset + tensor offset, ggml_nbytes long: the
// 2024 fork's gguf reader sizes I2_S as 1 byte per element when it loads a data blob, so it cannot
// load an I2_S file's data itself (its llama.cpp loader does not use it either).
//
// Fields: "tensor", "type", "type_name", "ne" [K, M], "values_bits" (K*M u32 IEEE bit patterns in
// row-major order: element j of row i at i*K + j), "to_float" (bool), "to_float_bits" (when true).
#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "compat.hpp"
#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml.h"
#include "probe.hpp"

namespace probe {
namespace {

std::string ggml_lib_dir() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&ggml_init), &info) == 0 || info.dli_fname == nullptr) return {};
    std::string path = info.dli_fname;
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

std::uint32_t bits_of(float f) {
    std::uint32_t b;
    std::memcpy(&b, &f, sizeof b);
    return b;
}

bool read_at(const std::string& path, std::size_t offset, std::vector<unsigned char>& out) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return false;
    const bool ok = std::fseek(f, static_cast<long>(offset), SEEK_SET) == 0 &&
                    std::fread(out.data(), 1, out.size(), f) == out.size();
    std::fclose(f);
    return ok;
}

struct Cleanup {
    ggml_context* ctx = nullptr;
    ggml_backend_t backend = nullptr;
    ggml_backend_buffer_t buffer = nullptr;
    ~Cleanup() {
        if (buffer != nullptr) ggml_backend_buffer_free(buffer);
        if (backend != nullptr) ggml_backend_free(backend);
        if (ctx != nullptr) ggml_free(ctx);
    }
};

}  // namespace

bool mode_kernel_dequant(const Args& args, Json& out, std::string& error) {
    const auto name = args.option("tensor");
    if (!args.file || !name) {
        error = "mode kernel_dequant needs FILE and --tensor NAME";
        return false;
    }
    const compat::GgufHeader header(args.file->c_str());
    if (header.get() == nullptr) {
        error = "gguf_init_from_file returned NULL";
        return false;
    }
    const gguf_context* g = header.get();
    std::int64_t index = -1;
    for (std::int64_t i = 0; i < gguf_get_n_tensors(g); ++i) {
        if (*name == gguf_get_tensor_name(g, i)) index = i;
    }
    if (index < 0 || header.ne(index) == nullptr) {
        error = "no tensor named '" + *name + "' in the file";
        return false;
    }
    const ggml_type type = gguf_get_tensor_type(g, index);
    const std::int64_t* ne = header.ne(index);
    if (ne[2] != 1 || ne[3] != 1) {
        error = "kernel_dequant handles 2-D tensors only";
        return false;
    }
    const std::int64_t k = ne[0], m = ne[1];
    if (k <= 0 || m <= 0 || k > 8192) {
        error = "kernel_dequant needs 0 < ne[0] <= 8192 (the identity is ne[0] x ne[0])";
        return false;
    }
    std::vector<unsigned char> bytes(header.size(index));
    if (!read_at(*args.file, gguf_get_data_offset(g) + gguf_get_tensor_offset(g, index), bytes)) {
        error = "cannot read the tensor's data from the file";
        return false;
    }

    compat::load_backends(args.option("libdir").value_or(ggml_lib_dir()).c_str());
    Cleanup c;
    ggml_init_params params{};
    params.mem_size = 16 * ggml_tensor_overhead() + ggml_graph_overhead();
    params.no_alloc = true;
    c.ctx = ggml_init(params);
    ggml_tensor* w = ggml_new_tensor_2d(c.ctx, type, k, m);
    ggml_tensor* eye = ggml_new_tensor_2d(c.ctx, GGML_TYPE_F32, k, k);
    ggml_tensor* product = ggml_mul_mat(c.ctx, w, eye);  // [m, k]
    ggml_cgraph* graph = ggml_new_graph(c.ctx);
    ggml_build_forward_expand(graph, product);

    c.backend = ggml_backend_init_by_name("CPU", nullptr);  // the device type is CPU_FULL in the 2024 fork
    if (c.backend == nullptr) c.backend = ggml_backend_init_by_type(GGML_BACKEND_DEVICE_TYPE_CPU, nullptr);
    if (c.backend == nullptr) {
        error = "no CPU backend";
        return false;
    }
    c.buffer = ggml_backend_alloc_ctx_tensors(c.ctx, c.backend);
    if (c.buffer == nullptr || ggml_nbytes(w) != bytes.size()) {
        error = "cannot allocate the tensors (or ggml_nbytes disagrees with the file's size)";
        return false;
    }
    ggml_backend_tensor_set(w, bytes.data(), 0, bytes.size());
    std::vector<float> identity(static_cast<std::size_t>(k * k), 0.0f);
    for (std::int64_t j = 0; j < k; ++j) identity[static_cast<std::size_t>(j * k + j)] = 1.0f;
    ggml_backend_tensor_set(eye, identity.data(), 0, identity.size() * sizeof(float));
    if (ggml_backend_graph_compute(c.backend, graph) != GGML_STATUS_SUCCESS) {
        error = "ggml_backend_graph_compute failed";
        return false;
    }
    std::vector<float> result(static_cast<std::size_t>(m * k));
    ggml_backend_tensor_get(product, result.data(), 0, result.size() * sizeof(float));

    out.field("tensor", *name);
    out.field("type", static_cast<int>(type));
    out.field("type_name", ggml_type_name(type));
    out.key("ne").begin_array().value(k).value(m).end_array();
    out.field("method", "ggml_mul_mat(W, identity) on the CPU backend, one thread");
    out.key("values_bits").begin_array();
    for (std::int64_t i = 0; i < m; ++i) {
        for (std::int64_t j = 0; j < k; ++j) out.value(bits_of(result[static_cast<std::size_t>(j * m + i)]));
    }
    out.end_array();
    const ggml_to_float_t to_float = compat::to_float(type);
    out.field("to_float", to_float != nullptr);
    if (to_float != nullptr) {
        std::vector<float> values(static_cast<std::size_t>(k * m));
        to_float(bytes.data(), values.data(), k * m);
        out.key("to_float_bits").begin_array();
        for (float v : values) out.value(bits_of(v));
        out.end_array();
    }
    return true;
}

}  // namespace probe
