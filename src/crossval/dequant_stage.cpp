#include "dequant_stage.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <vector>

#include "describe/description.hpp"
#include "gguf/data/quantize.hpp"
#include "gguf/reader.hpp"

namespace gguf::crossval {
namespace {

// A file that is removed when it goes out of scope: the probe's f32 output.
struct TempFile {
    std::filesystem::path path;
    TempFile() {
        static std::atomic<unsigned> counter{0};
        path = std::filesystem::temp_directory_path() /
               fmt::format("gguf-crossval-dequant-{}-{}.f32", ::getpid(), counter++);
    }
    ~TempFile() {
        std::error_code ec;
        std::filesystem::remove(path, ec);
    }
};

std::string hex_name(std::string_view s) {
    std::string out;
    for (unsigned char c : s) out += fmt::format("{:02x}", c);
    return out;
}

std::string type_name(std::uint32_t id) {
    if (id == kTypeI2S) return "I2_S";
    const auto t = ggml_type(id);
    return t ? std::string(t->name) : fmt::format("type {}", id);
}

nlohmann::json value_json(float v) {
    return {{"value", describe::render_float(v)}, {"bits", fmt::format("{:08x}", std::bit_cast<std::uint32_t>(v))}};
}

struct Difference {
    std::uint64_t count = 0;
    std::uint64_t index = 0;
    float ours = 0, theirs = 0;
};

// Compare one tensor: ours decoded a run of rows at a time, theirs read from the probe's output.
Result<Difference> compare_tensor(const TensorInfo& t, std::uint64_t n_elements, std::ifstream& reference_values,
                                  std::uint64_t f32_offset) {
    Difference diff;
    if (n_elements == 0) return diff;
    const std::uint64_t row = t.n_dims ? t.ne[0] : 1;
    const std::uint64_t row_bytes = row == 0 ? 0 : t.size / (n_elements / row);
    const std::uint64_t rows_per_run =
        std::max<std::uint64_t>(1, (std::uint64_t{1} << 18) / std::max<std::uint64_t>(row, 1));
    std::vector<float> ours, theirs;
    reference_values.seekg(static_cast<std::streamoff>(f32_offset * sizeof(float)));
    for (std::uint64_t r0 = 0; r0 * row < n_elements; r0 += rows_per_run) {
        const std::uint64_t n = std::min(rows_per_run * row, n_elements - r0 * row);
        ours.resize(n);
        theirs.resize(n);
        auto st =
            dequantize_into(static_cast<GgmlType>(t.type), t.data.subspan(r0 * row_bytes, n / row * row_bytes), ours);
        if (!st) return st.error();
        if (!reference_values.read(reinterpret_cast<char*>(theirs.data()),
                                   static_cast<std::streamsize>(n * sizeof(float)))) {
            return Error{Code::io_error, 0, "the probe's output ends early"};
        }
        for (std::uint64_t i = 0; i < n; ++i) {
            if (std::bit_cast<std::uint32_t>(ours[i]) == std::bit_cast<std::uint32_t>(theirs[i])) continue;
            if (diff.count++ == 0) {
                diff.index = r0 * row + i;
                diff.ours = ours[i];
                diff.theirs = theirs[i];
            }
        }
    }
    return diff;
}

void fail(Stage& s, Failure failure, std::string message) {
    s.ok = false;
    s.failure = failure;
    s.message = std::move(message);
}

}  // namespace

Stage dequant_stage(const reference::Reference& ref, const std::filesystem::path& model,
                    const reference::RunOptions& run) {
    return dequant_stage(ref, model, model, run);
}

Stage dequant_stage(const reference::Reference& ref, const std::filesystem::path& reference_model,
                    const std::filesystem::path& our_model, const reference::RunOptions& run) {
    Stage s;
    s.id = StageId::dequant;
    s.ran = true;
    TempFile out;
    const auto o =
        reference::run_probe(ref, {"dequant", "--output", out.path.string(), "--", reference_model.string()}, run);
    s.duration_ms = o.duration_ms;
    if (!o.ok) {
        s.failure = o.failure;
        s.message = o.message;
        s.log_excerpt = o.log_excerpt;
        return s;
    }
    const auto start = std::chrono::steady_clock::now();
    auto file = gguf::open(our_model);
    if (!file) {
        fail(s, reference::FailureClass::other,
             "our reader rejected the file, so there is nothing of ours to compare: " + file.error().message);
        return s;
    }
    const auto& theirs = o.payload["tensors"];
    if (!theirs.is_array() || theirs.size() != file->tensors().size()) {
        fail(s, reference::FailureClass::other,
             fmt::format("the probe reported {} tensors, our reader {}", theirs.is_array() ? theirs.size() : 0,
                         file->tensors().size()));
        return s;
    }
    std::ifstream values(out.path, std::ios::binary);
    nlohmann::json rows = nlohmann::json::array();
    std::uint64_t identical = 0;
    std::vector<std::string> differing, unchecked;
    std::set<std::string> unchecked_types;
    std::string first_message;
    for (std::size_t i = 0; i < file->tensors().size(); ++i) {
        const auto& t = file->tensors()[i];
        const auto& j = theirs[i];
        const std::uint64_t n_elements = element_count(t.dims()).value_or(0);
        nlohmann::json row = {
            {"name", describe::render_string(t.name)}, {"type", type_name(t.type)}, {"n_elements", n_elements}};
        if (j.value("name", std::string()) != hex_name(t.name) ||
            j.value("n_elements", std::uint64_t{0}) != n_elements) {
            fail(s, reference::FailureClass::other,
                 fmt::format("tensor {} is '{}' with {} elements for us, something else for the probe", i,
                             describe::render_string(t.name), n_elements));
            return s;
        }
        if (dequant_support(t.type) != DequantSupport::supported) {
            row["status"] = "unsupported";
            unchecked.push_back(fmt::format("{} ({}: not supported by our library)", describe::render_string(t.name),
                                            type_name(t.type)));
            unchecked_types.insert(type_name(t.type));
        } else if (!j.value("to_float", false)) {
            row["status"] = "no_reference_to_float";
            unchecked.push_back(
                fmt::format("{} ({}: ggml has no to_float)", describe::render_string(t.name), type_name(t.type)));
            unchecked_types.insert(type_name(t.type));
        } else {
            auto d = compare_tensor(t, n_elements, values, j.value("f32_offset", std::uint64_t{0}));
            if (!d) {
                fail(s, reference::FailureClass::other,
                     fmt::format("tensor '{}': {}", describe::render_string(t.name), d.error().message));
                return s;
            }
            if (d->count == 0) {
                row["status"] = "identical";
                ++identical;
            } else {
                const std::uint64_t ne0 = t.n_dims ? t.ne[0] : 1;
                const std::uint64_t col = d->index % ne0;
                const std::uint64_t block = t.traits.block_size ? col / t.traits.block_size : 0;
                const std::uint64_t element = t.traits.block_size ? col % t.traits.block_size : 0;
                row["status"] = "differs";
                row["differing"] = d->count;
                row["first_difference"] = {
                    {"index", d->index},  {"row", d->index / ne0},       {"block", block},
                    {"element", element}, {"ours", value_json(d->ours)}, {"reference", value_json(d->theirs)}};
                differing.push_back(describe::render_string(t.name));
                if (first_message.empty()) {
                    first_message = fmt::format(
                        "'{}' ({}) row {} block {} element {}: ours {} (0x{:08x}), ggml {} (0x{:08x}); "
                        "{} of {} elements differ",
                        describe::render_string(t.name), type_name(t.type), d->index / ne0, block, element, d->ours,
                        std::bit_cast<std::uint32_t>(d->ours), d->theirs, std::bit_cast<std::uint32_t>(d->theirs),
                        d->count, n_elements);
                }
            }
        }
        rows.push_back(std::move(row));
    }
    s.duration_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    s.details["tensors"] = std::move(rows);
    s.details["identical"] = identical;
    s.details["differing"] = differing;
    s.details["unchecked"] = unchecked;
    if (!differing.empty()) {
        fail(s, CheckFailure::dequant_differs,
             fmt::format("{} tensor(s) dequantize differently from ggml; first: {}", differing.size(), first_message));
    } else if (!unchecked.empty()) {
        fail(s, CheckFailure::dequant_unsupported,
             fmt::format("{} tensor(s) bit-identical with ggml, {} not compared (types {}): {}", identical,
                         unchecked.size(), fmt::join(unchecked_types, ", "), fmt::join(unchecked, "; ")));
    } else {
        s.ok = true;
        s.message = fmt::format("all {} tensors bit-identical with ggml's to_float", identical);
    }
    return s;
}

}  // namespace gguf::crossval
