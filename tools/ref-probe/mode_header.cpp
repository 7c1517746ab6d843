// Mode `header`: what the reference's GGUF reader (gguf_init_from_file, no_alloc, no ggml context)
// makes of a file, dumped without loss:
//   - keys, string values and tensor names as hex of their bytes ("key_hex", "value"/"values"
//     elements, "name_hex"): the C API hands out C strings, so a string value is cut at its first
//     NUL byte by the reference itself; nothing else is lost;
//   - integers as JSON integers; floats as their IEEE bit pattern (an unsigned integer); bools as
//     the raw stored byte (ggml does not check it is 0 or 1);
//   - arrays in full: {"elem_type", "n", "values"};
//   - tensors: name, type id, ggml type name/size/block size, ne[0..3], offset, size. ggml does not
//     keep the stored dimension count: "n_dims" applies ggml_n_dims's rule (trailing 1s dropped,
//     at least 1) to the stored ne, and "dims" is ne[0..n_dims).
#include <cstring>
#include <filesystem>

#include "compat.hpp"
#include "ggml.h"
#include "probe.hpp"

namespace probe {
namespace {

template <class T>
T load(const void* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// Encoded size of a fixed-size GGUF value type, 0 for string/array.
std::size_t fixed_size(int type) {
    switch (type) {
        case GGUF_TYPE_UINT8:
        case GGUF_TYPE_INT8:
        case GGUF_TYPE_BOOL:
            return 1;
        case GGUF_TYPE_UINT16:
        case GGUF_TYPE_INT16:
            return 2;
        case GGUF_TYPE_UINT32:
        case GGUF_TYPE_INT32:
        case GGUF_TYPE_FLOAT32:
            return 4;
        case GGUF_TYPE_UINT64:
        case GGUF_TYPE_INT64:
        case GGUF_TYPE_FLOAT64:
            return 8;
        default:
            return 0;
    }
}

// One fixed-size element at p, as the lossless JSON form described above.
void scalar(Json& out, int type, const void* p) {
    switch (type) {
        case GGUF_TYPE_UINT8:
            out.value(load<std::uint8_t>(p));
            return;
        case GGUF_TYPE_INT8:
            out.value(load<std::int8_t>(p));
            return;
        case GGUF_TYPE_UINT16:
            out.value(load<std::uint16_t>(p));
            return;
        case GGUF_TYPE_INT16:
            out.value(load<std::int16_t>(p));
            return;
        case GGUF_TYPE_UINT32:
            out.value(load<std::uint32_t>(p));
            return;
        case GGUF_TYPE_INT32:
            out.value(load<std::int32_t>(p));
            return;
        case GGUF_TYPE_FLOAT32:
            out.value(load<std::uint32_t>(p));
            return;  // bit pattern
        case GGUF_TYPE_BOOL:
            out.value(load<std::uint8_t>(p));
            return;  // raw byte
        case GGUF_TYPE_UINT64:
            out.value(load<std::uint64_t>(p));
            return;
        case GGUF_TYPE_INT64:
            out.value(load<std::int64_t>(p));
            return;
        case GGUF_TYPE_FLOAT64:
            out.value(load<std::uint64_t>(p));
            return;  // bit pattern
        default:
            out.null();
            return;
    }
}

void dump_kv(Json& out, const gguf_context* ctx, std::int64_t i) {
    const int type = gguf_get_kv_type(ctx, i);
    out.begin_object();
    out.field("key_hex", hex(gguf_get_key(ctx, i)));
    out.field("type", type);
    if (type == GGUF_TYPE_ARRAY) {
        const int elem = gguf_get_arr_type(ctx, i);
        const std::size_t n = gguf_get_arr_n(ctx, i);
        out.field("elem_type", elem);
        out.field("n", static_cast<std::uint64_t>(n));
        out.key("values").begin_array();
        if (elem == GGUF_TYPE_STRING) {
            for (std::size_t j = 0; j < n; ++j) out.value(hex(gguf_get_arr_str(ctx, i, j)));
        } else if (const std::size_t size = fixed_size(elem); size != 0 && n != 0) {
            const auto* data = static_cast<const unsigned char*>(gguf_get_arr_data(ctx, i));
            for (std::size_t j = 0; j < n; ++j) scalar(out, elem, data + j * size);
        }
        out.end_array();
    } else if (type == GGUF_TYPE_STRING) {
        out.field("value", hex(gguf_get_val_str(ctx, i)));
    } else {
        out.key("value");
        scalar(out, type, gguf_get_val_data(ctx, i));
    }
    out.end_object();
}

void dump_tensor(Json& out, const compat::GgufHeader& header, std::int64_t i) {
    const gguf_context* ctx = header.get();
    const ggml_type type = gguf_get_tensor_type(ctx, i);
    static const std::int64_t kNoShape[GGML_MAX_DIMS] = {0};
    const std::int64_t* ne = header.ne(i) != nullptr ? header.ne(i) : kNoShape;
    int n_dims = GGML_MAX_DIMS;
    while (n_dims > 1 && ne[n_dims - 1] == 1) --n_dims;
    out.begin_object();
    out.field("name_hex", hex(gguf_get_tensor_name(ctx, i)));
    out.field("type", static_cast<int>(type));
    out.field("type_name", ggml_type_name(type));
    out.field("type_size", static_cast<std::uint64_t>(ggml_type_size(type)));
    out.field("blck_size", static_cast<std::int64_t>(ggml_blck_size(type)));
    out.key("ne").begin_array();
    for (int d = 0; d < GGML_MAX_DIMS; ++d) out.value(ne[d]);
    out.end_array();
    out.field("n_dims", n_dims);
    out.key("dims").begin_array();
    for (int d = 0; d < n_dims; ++d) out.value(ne[d]);
    out.end_array();
    out.field("offset", static_cast<std::uint64_t>(gguf_get_tensor_offset(ctx, i)));
    out.field("size", static_cast<std::uint64_t>(header.size(i)));
    out.end_object();
}

}  // namespace

bool mode_header(const Args& args, Json& out, std::string& error) {
    if (!args.file) {
        error = "mode header needs a FILE";
        return false;
    }
    const compat::GgufHeader header(args.file->c_str());
    if (header.get() == nullptr) {
        error = "gguf_init_from_file returned NULL";
        return false;
    }
    const gguf_context* c = header.get();
    out.field("version", gguf_get_version(c));
    out.field("n_kv", gguf_get_n_kv(c));
    out.field("n_tensors", gguf_get_n_tensors(c));
    out.field("alignment", static_cast<std::uint64_t>(gguf_get_alignment(c)));
    out.field("data_offset", static_cast<std::uint64_t>(gguf_get_data_offset(c)));
    std::error_code ec;
    const auto file_size = std::filesystem::file_size(*args.file, ec);
    if (!ec) out.field("file_size", static_cast<std::uint64_t>(file_size));
    out.key("kv").begin_array();
    for (std::int64_t i = 0; i < gguf_get_n_kv(c); ++i) dump_kv(out, c, i);
    out.end_array();
    out.key("tensors").begin_array();
    for (std::int64_t i = 0; i < gguf_get_n_tensors(c); ++i) dump_tensor(out, header, i);
    out.end_array();
    return true;
}

}  // namespace probe
