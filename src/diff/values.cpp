// The value comparison of one tensor in two files: both sides read with pread a run of whole blocks
// at a time, dequantized to f32, and folded into running sums, so memory stays bounded by the chunk.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <numeric>

#include "diff/diff.hpp"
#include "gguf/data/quantize.hpp"

namespace gguf::diff {
namespace {

// A read-only descriptor, closed on scope exit.
class ReadFile {
public:
    explicit ReadFile(const std::filesystem::path& path)
        : path_(path), fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
        if (fd_ < 0) err_ = errno;
    }
    ~ReadFile() {
        if (fd_ >= 0) ::close(fd_);
    }
    ReadFile(const ReadFile&) = delete;
    ReadFile& operator=(const ReadFile&) = delete;

    // Fill `out` with the bytes at `offset`. Errors: io_error (cannot open or read, or the file ends
    // before the range does: it shrank since it was parsed).
    Status read(std::uint64_t offset, std::span<std::byte> out) const {
        if (fd_ < 0) return io(offset, "open", err_);
        std::size_t done = 0;
        while (done < out.size()) {
            const auto n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
            if (n < 0) {
                if (errno == EINTR) continue;
                return io(offset + done, "read", errno);
            }
            if (n == 0) {
                return Error{Code::io_error, offset + done,
                             fmt::format("'{}' ends at byte {} inside tensor data it held when parsed: the file "
                                         "changed while being compared",
                                         path_.string(), offset + done)};
            }
            done += static_cast<std::size_t>(n);
        }
        return Ok{};
    }

private:
    Error io(std::uint64_t offset, std::string_view what, int err) const {
        return Error{Code::io_error, offset,
                     fmt::format("cannot {} '{}': {}", what, path_.string(), std::strerror(err))};
    }
    std::filesystem::path path_;
    int fd_ = -1;
    int err_ = 0;
};

// One side of the comparison: a tensor, where its data starts in the file, and its block geometry.
struct Side {
    const TensorInfo& t;
    std::uint64_t file_offset;
    std::uint64_t block_size;
    std::uint64_t block_bytes;
};

// True when the tensor's data is n_elements / block_size blocks of block_bytes each: what lets a run
// of elements be located in the data (every ggml type but bitnet.cpp's I2_S, whose scale trails the data).
bool is_block_sequence(const TensorInfo& t, std::uint64_t n) {
    const auto bs = t.traits.block_size, bb = t.traits.bytes_per_block;
    return bs > 0 && bb > 0 && n % bs == 0 && n / bs * bb == t.size;
}

// Fold the pair of chunks starting at flat index `base` into `v`; aa and dd are the running sums of
// a^2 and (b - a)^2 (the definitions of crossval's trace comparison, there over whole spans).
void accumulate(Values& v, std::uint64_t base, std::span<const float> a, std::span<const float> b, double& aa,
                double& dd) {
    for (std::size_t i = 0; i < a.size(); ++i) {
        const double x = a[i], y = b[i];
        const bool equal = x == y || (std::isnan(x) && std::isnan(y));
        if (!equal) {
            ++v.differing;
            if (!v.first_difference) v.first_difference = base + i;
        }
        if (!std::isfinite(x) || !std::isfinite(y)) {
            if (!equal) ++v.non_finite_mismatches;
            continue;
        }
        const double d = std::fabs(y - x);
        if (d > v.max_abs) {
            v.max_abs = d;
            v.max_abs_index = base + i;
            v.max_abs_a = a[i];
            v.max_abs_b = b[i];
        }
        aa += x * x;
        dd += (y - x) * (y - x);
    }
}

}  // namespace

Result<Values, DiffError> compare_values(const std::filesystem::path& path_a, const File& fa, const TensorInfo& ta,
                                         const std::filesystem::path& path_b, const File& fb, const TensorInfo& tb,
                                         const Options& options) {
    const auto dims = ta.dims();
    if (!std::equal(dims.begin(), dims.end(), tb.dims().begin(), tb.dims().end())) {
        return DiffError{'B', Error{Code::invalid_dimension, tb.info_offset, "the two tensors have different shapes"}};
    }
    const auto n = element_count(dims).value_or(0);  // the reader has checked it fits
    for (const auto* t : {&ta, &tb}) {
        if (!is_block_sequence(*t, n)) {
            return DiffError{t == &ta ? 'A' : 'B',
                             Error{Code::invalid_tensor_type, t->info_offset,
                                   fmt::format("type {} is not stored as a sequence of blocks", t->traits.name)}};
        }
    }
    const Side a{ta, fa.data_offset() + ta.offset, ta.traits.block_size, ta.traits.bytes_per_block};
    const Side b{tb, fb.data_offset() + tb.offset, tb.traits.block_size, tb.traits.bytes_per_block};
    // A run of elements starts at a whole block of both types when it is a multiple of their lcm.
    const std::uint64_t unit = std::lcm(a.block_size, b.block_size);
    const std::uint64_t step = std::max<std::uint64_t>(unit, options.chunk_elements / unit * unit);

    const ReadFile file_a(path_a), file_b(path_b);
    std::vector<std::byte> raw_a, raw_b;
    Values v;
    v.elements = n;
    double aa = 0, dd = 0;
    for (std::uint64_t e = 0; e < n; e += step) {
        const std::uint64_t count = std::min(step, n - e);  // n is a multiple of both block sizes
        for (auto [side, file, raw, which] :
             {std::tuple{&a, &file_a, &raw_a, 'A'}, std::tuple{&b, &file_b, &raw_b, 'B'}}) {
            raw->resize(count / side->block_size * side->block_bytes);
            auto st = file->read(side->file_offset + e / side->block_size * side->block_bytes, *raw);
            if (!st) return DiffError{which, st.error()};
        }
        auto xa = dequantize(static_cast<GgmlType>(ta.type), raw_a, count);
        if (!xa) return DiffError{'A', xa.error()};
        auto xb = dequantize(static_cast<GgmlType>(tb.type), raw_b, count);
        if (!xb) return DiffError{'B', xb.error()};
        accumulate(v, e, *xa, *xb, aa, dd);
    }
    v.nmse = aa > 0 ? dd / aa : (dd > 0 ? INFINITY : 0.0);
    if (v.max_abs > 0) {
        auto rest = v.max_abs_index;
        for (const auto d : dims) {
            v.max_abs_coords.push_back(d > 0 ? rest % d : 0);
            rest = d > 0 ? rest / d : 0;
        }
    }
    return v;
}

}  // namespace gguf::diff
