// dequant: a GGUF file's tensors as f32, written as safetensors (named as in the file), so that an
// engine author can compare their own dequantization in Python or Rust.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "command.hpp"
#include "describe/description.hpp"
#include "gguf/data/quantize.hpp"
#include "gguf/reader.hpp"
#include "safetensors/safetensors.hpp"

namespace cli {
namespace {

// The tensor's dims in safetensors (row-major) order: GGUF's ne[0] varies fastest, so it goes last.
std::vector<std::uint64_t> row_major_shape(const gguf::TensorInfo& t) {
    std::vector<std::uint64_t> shape(t.ne.begin(), t.ne.begin() + t.n_dims);
    std::reverse(shape.begin(), shape.end());
    return shape;
}

// Fills bytes [offset, offset + out.size()) of the f32 form of `t`, dequantizing the whole rows
// that cover them (one row at a time: memory stays one row whatever the tensor's size).
gguf::safetensors::Writer::Fill fill_for(const gguf::TensorInfo& t) {
    return [&t](std::uint64_t offset, std::span<std::byte> out) {
        const std::uint64_t ne0 = t.n_dims ? std::max<std::uint64_t>(t.ne[0], 1) : 1;
        const std::uint64_t n_rows = gguf::element_count(t.dims()).value_or(0) / ne0;
        const std::uint64_t row_bytes = n_rows ? t.size / n_rows : 0;
        std::vector<float> row(ne0);
        std::uint64_t done = 0;
        while (done < out.size()) {
            const std::uint64_t at = offset + done;
            const std::uint64_t r = at / (ne0 * 4);
            const auto st = gguf::dequantize_into(static_cast<gguf::GgmlType>(t.type),
                                                  t.data.subspan(r * row_bytes, row_bytes), row);
            if (!st) {  // checked before the tensor was declared; zeros rather than garbage if it ever fails
                std::fill(row.begin(), row.end(), 0.0f);
            }
            const std::uint64_t in_row = at - r * ne0 * 4;
            const std::uint64_t n = std::min<std::uint64_t>(ne0 * 4 - in_row, out.size() - done);
            std::memcpy(out.data() + done, reinterpret_cast<const std::byte*>(row.data()) + in_row, n);
            done += n;
        }
    };
}

struct Opts {
    std::string file;
    std::vector<std::string> tensors;
    std::string out;
};

int run_dequant(const Opts& o) {
    auto file = gguf::open(o.file);
    if (!file) {
        const auto& e = file.error();
        fmt::print(stderr, "{}: invalid: [{}] at offset {}: {}\n", o.file, gguf::code_name(e.code), e.offset,
                   e.message);
        return e.code == gguf::Code::io_error ? int{kUsage} : int{kInvalid};
    }
    std::vector<const gguf::TensorInfo*> chosen;
    if (o.tensors.empty()) {
        for (const auto& t : file->tensors()) chosen.push_back(&t);
    } else {
        std::set<std::string> seen;
        for (const auto& name : o.tensors) {
            const auto* t = file->find_tensor(name);
            if (t == nullptr) {
                fmt::print(stderr, "error: no tensor '{}' in {}\n", name, o.file);
                return int{kUsage};
            }
            if (seen.insert(name).second) chosen.push_back(t);
        }
    }
    gguf::safetensors::Writer writer;
    writer.set_metadata("source", "gguf-crossval dequant");
    writer.set_metadata("gguf_file", gguf::describe::render_string(o.file));
    std::vector<std::string> skipped;
    for (const auto* t : chosen) {
        if (gguf::dequant_support(t->type) != gguf::DequantSupport::supported) {
            auto probe = gguf::dequantize(static_cast<gguf::GgmlType>(t->type), {}, 0);
            skipped.push_back(fmt::format("{}: {}", t->name, probe ? "" : probe.error().message));
            continue;
        }
        auto st =
            writer.add_streamed(std::string(t->name), gguf::safetensors::Dtype::F32, row_major_shape(*t), fill_for(*t));
        if (!st) {
            fmt::print(stderr, "error: tensor '{}': {}\n", t->name, st.error().message);
            return int{kInvalid};
        }
        writer.set_metadata("gguf_type." + std::string(t->name), std::string(t->traits.name));
    }
    if (auto st = writer.write_file(o.out); !st) {
        fmt::print(stderr, "error: {}\n", st.error().message);
        return int{kUsage};
    }
    fmt::print("{}: {} tensor(s) written as f32\n", o.out, chosen.size() - skipped.size());
    for (const auto& s : skipped) fmt::print("not written: {}\n", s);
    return skipped.empty() ? int{kOk} : int{kInvalid};
}

}  // namespace

Command add_dequant(CLI::App& root) {
    auto* app = root.add_subcommand(
        "dequant",
        "Dequantize a GGUF file's tensors to f32 (bit-identical with ggml's to_float) and write them as safetensors, "
        "each named as in the file, shape in row-major order (GGUF's ne reversed)");
    auto opts = std::make_shared<Opts>();
    app->add_option("file", opts->file, "The GGUF file")->required();
    app->add_option("--tensor", opts->tensors, "Only this tensor (repeatable; default: every tensor)");
    app->add_option("--out", opts->out, "The safetensors file to write")->required();
    return {app, [opts] { return run_dequant(*opts); }};
}

}  // namespace cli
