// Hashing a file's data in one streaming pass. A reader fills a small ring of buffers with pread;
// the per-range XXH3 and the whole-file SHA-256 each consume every buffer in order, on their own
// threads, and a buffer is refilled only once both are done with it. Memory is the ring, whatever
// the file size: the file is never mapped here, so its pages never count toward our resident set.
#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <numeric>
#include <thread>
#include <unordered_map>
#if defined(__x86_64__)
#include <xxh_x86dispatch.h>  // libxxhash picks SSE2, AVX2 or AVX-512 at run time: as fast as xxhsum
#define GGUF_XXH3_64(p, n) XXH3_64bits_dispatch(p, n)
#define GGUF_XXH3_64_UPDATE(s, p, n) XXH3_64bits_update_dispatch(s, p, n)
#else
#define GGUF_XXH3_64(p, n) XXH3_64bits(p, n)
#define GGUF_XXH3_64_UPDATE(s, p, n) XXH3_64bits_update(s, p, n)
#endif

#include "gguf/data/hash.hpp"
#include "gguf/data/row_check.hpp"
#include "util/fd.hpp"

namespace gguf {
namespace {

// ---- small owners ------------------------------------------------------------------------------

struct Buffer {
    std::byte* p = nullptr;
    explicit Buffer(std::size_t n) : p(static_cast<std::byte*>(::operator new (n, std::align_val_t{64}))) {}
    ~Buffer() { ::operator delete (p, std::align_val_t{64}); }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
};

// ---- consumers ---------------------------------------------------------------------------------

// One chunk of the file, as read.
struct Chunk {
    std::uint64_t offset = 0;
    const std::byte* data = nullptr;
    std::size_t size = 0;
};

// SHA-256 over every chunk, in order.
class Sha256 {
public:
    Sha256() : ctx_(EVP_MD_CTX_new()) { ok_ = ctx_ != nullptr && EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) == 1; }
    ~Sha256() { EVP_MD_CTX_free(ctx_); }
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    void consume(const Chunk& c) { ok_ = ok_ && EVP_DigestUpdate(ctx_, c.data, c.size) == 1; }

    // Lowercase hex of the digest, or empty if OpenSSL failed.
    std::string finish() {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        if (!ok_ || EVP_DigestFinal_ex(ctx_, md, &n) != 1) return {};
        std::string out;
        out.reserve(2 * n);
        for (unsigned i = 0; i < n; ++i) out += fmt::format("{:02x}", md[i]);
        return out;
    }

private:
    EVP_MD_CTX* ctx_;
    bool ok_ = false;
};

// XXH3-64 of each range. The ranges are sorted by offset and do not overlap, so at most one is
// open at a time: a range that lies inside one chunk is hashed in one call, one that spans chunks
// goes through a streaming state.
class RangeXxh3 {
public:
    // `order` lists the indices of the in-bounds, non-empty ranges by offset.
    RangeXxh3(std::span<const ByteRange> ranges, std::vector<std::size_t> order,
              std::vector<std::optional<std::uint64_t>>& out)
        : ranges_(ranges), order_(std::move(order)), out_(out), state_(XXH3_createState()) {}
    ~RangeXxh3() { XXH3_freeState(state_); }
    RangeXxh3(const RangeXxh3&) = delete;
    RangeXxh3& operator=(const RangeXxh3&) = delete;

    bool ok() const { return state_ != nullptr; }

    void consume(const Chunk& c) {
        const std::uint64_t chunk_end = c.offset + c.size;
        while (next_ < order_.size()) {
            const auto i = order_[next_];
            const auto& r = ranges_[i];
            if (r.offset >= chunk_end) return;
            const std::uint64_t from = std::max(r.offset, c.offset);
            const std::uint64_t to = std::min(r.offset + r.size, chunk_end);
            const auto* p = c.data + (from - c.offset);
            const auto n = static_cast<std::size_t>(to - from);
            const bool starts = from == r.offset;
            const bool ends = to == r.offset + r.size;
            if (starts && ends) {
                out_[i] = GGUF_XXH3_64(p, n);
            } else {
                if (starts) XXH3_64bits_reset(state_);
                GGUF_XXH3_64_UPDATE(state_, p, n);
                if (ends) out_[i] = XXH3_64bits_digest(state_);
            }
            if (!ends) return;  // the range goes on in the next chunk
            ++next_;
        }
    }

private:
    std::span<const ByteRange> ranges_;
    std::vector<std::size_t> order_;
    std::vector<std::optional<std::uint64_t>>& out_;
    XXH3_state_t* state_;
    std::size_t next_ = 0;
};

// llama.cpp's row check over each tensor's bytes, as they stream past. Blocks can straddle two
// chunks: the head of such a block waits in `carry_` (less than one block) until its tail comes.
// Only the first finding of each tensor is kept; the rest of that tensor is skipped.
class RowCheck {
public:
    struct Target {
        std::size_t tensor = 0;  // index in the file's tensor order
        std::uint64_t offset = 0, size = 0;
        std::uint32_t type = 0;
        std::uint64_t block_bytes = 0, block_size = 0, ne0 = 1;
    };

    explicit RowCheck(std::vector<Target> targets) : targets_(std::move(targets)) {
        std::sort(targets_.begin(), targets_.end(),
                  [](const Target& a, const Target& b) { return a.offset < b.offset; });
    }

    // (tensor index, finding) pairs, by tensor index.
    std::vector<std::pair<std::size_t, NonFiniteFinding>> take() {
        std::sort(found_.begin(), found_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        return std::move(found_);
    }

    void consume(const Chunk& c) {
        const std::uint64_t chunk_end = c.offset + c.size;
        while (next_ < targets_.size()) {
            const Target& t = targets_[next_];
            if (t.offset >= chunk_end) return;
            const std::uint64_t from = std::max(t.offset, c.offset);
            const std::uint64_t to = std::min(t.offset + t.size, chunk_end);
            if (!done_) scan(t, c.data + (from - c.offset), static_cast<std::size_t>(to - from), from - t.offset);
            if (to < t.offset + t.size) return;  // the tensor goes on in the next chunk
            ++next_;
            carry_.clear();
            done_ = false;
        }
    }

private:
    // Bytes [pos, pos + n) of tensor t.
    void scan(const Target& t, const std::byte* p, std::size_t n, std::uint64_t pos) {
        if (!carry_.empty()) {
            const std::size_t take = std::min<std::size_t>(n, t.block_bytes - carry_.size());
            carry_.insert(carry_.end(), p, p + take);
            p += take;
            n -= take;
            pos += take;
            if (carry_.size() < t.block_bytes) return;
            if (auto f = check_blocks(t.type, carry_.data(), 1)) return record(t, pos / t.block_bytes - 1, *f);
            carry_.clear();
        }
        const std::size_t whole = n / t.block_bytes;
        if (whole > 0) {
            if (auto f = check_blocks(t.type, p, whole)) return record(t, pos / t.block_bytes + f->block, *f);
        }
        carry_.assign(p + whole * t.block_bytes, p + n);
    }

    void record(const Target& t, std::uint64_t block, const BlockFinding& f) {
        const std::uint64_t element = block * t.block_size + f.element;
        NonFiniteFinding out;
        out.row = element / t.ne0;
        out.block = (element % t.ne0) / t.block_size;
        out.element = f.element;
        out.field = std::string(f.field);
        out.value = f.value;
        out.offset = t.offset + block * t.block_bytes;
        found_.emplace_back(t.tensor, std::move(out));
        done_ = true;
    }

    std::vector<Target> targets_;
    std::size_t next_ = 0;
    std::vector<std::byte> carry_;
    bool done_ = false;
    std::vector<std::pair<std::size_t, NonFiniteFinding>> found_;
};

// ---- the pipeline ------------------------------------------------------------------------------

// Reads [begin, end) of a file chunk by chunk and hands every chunk to each consumer in order.
class Pipeline {
public:
    Pipeline(const std::filesystem::path& path, int fd, std::uint64_t begin, std::uint64_t end,
             const HashOptions& options)
        : path_(path),
          fd_(fd),
          begin_(begin),
          end_(end),
          chunk_(std::max<std::size_t>(options.chunk_size, 1)),
          n_chunks_(end > begin ? (end - begin + chunk_ - 1) / chunk_ : 0),
          progress_(options.progress) {}

    // Run `main` on the calling thread and each of `others` on a thread of its own (or all on the
    // calling thread when `threaded` is false). Returns the first read error.
    Status run(const std::function<void(const Chunk&)>& main,
               const std::vector<std::function<void(const Chunk&)>>& others, bool threaded, std::size_t slots) {
        if (!threaded) return run_sequential(main, others);
        slots = std::max<std::size_t>(slots, 2);
        for (std::size_t i = 0; i < slots; ++i) {
            buffers_.push_back(std::make_unique<Buffer>(chunk_));
            slots_.push_back(Slot{});
        }
        consumers_ = 1 + others.size();
        std::vector<std::jthread> threads;
        threads.emplace_back([this] { produce(); });
        for (const auto& c : others) threads.emplace_back([this, &c] { consume(c, false); });
        consume(main, true);
        threads.clear();  // joins
        if (failed_) return error_;
        return Ok{};
    }

private:
    struct Slot {
        std::uint64_t seq = ~std::uint64_t{0};  // the chunk it holds
        std::size_t size = 0;
        std::size_t pending = 0;  // consumers not yet done with it
    };

    std::uint64_t chunk_offset(std::uint64_t seq) const { return begin_ + seq * chunk_; }
    std::size_t chunk_size(std::uint64_t seq) const {
        return static_cast<std::size_t>(std::min<std::uint64_t>(chunk_, end_ - chunk_offset(seq)));
    }

    // Fill `dst` with the chunk `seq`; false (with error_ set) on a read error or a short file.
    bool read_chunk(std::uint64_t seq, std::byte* dst) {
        const std::uint64_t at = chunk_offset(seq);
        const std::size_t want = chunk_size(seq);
        std::size_t got = 0;
        while (got < want) {
            const auto n = ::pread(fd_, dst + got, want - got, static_cast<off_t>(at + got));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                error_ = io_error(path_, "read", errno);
                error_.offset = at + got;
                return false;
            }
            if (n == 0) {
                error_ = Error{Code::io_error, at + got,
                               fmt::format("'{}' ended at byte {} while being read: it changed or shrank",
                                           path_.string(), at + got)};
                return false;
            }
            got += static_cast<std::size_t>(n);
        }
        return true;
    }

    void report(std::uint64_t seq) {
        if (progress_) progress_(chunk_offset(seq) + chunk_size(seq) - begin_, end_ - begin_);
    }

    Status run_sequential(const std::function<void(const Chunk&)>& main,
                          const std::vector<std::function<void(const Chunk&)>>& others) {
        Buffer buf(chunk_);
        for (std::uint64_t seq = 0; seq < n_chunks_; ++seq) {
            if (!read_chunk(seq, buf.p)) return error_;
            const Chunk c{chunk_offset(seq), buf.p, chunk_size(seq)};
            main(c);
            for (const auto& o : others) o(c);
            report(seq);
        }
        return Ok{};
    }

    void produce() {
        for (std::uint64_t seq = 0; seq < n_chunks_; ++seq) {
            const auto s = seq % slots_.size();
            {
                std::unique_lock lock(mu_);
                cv_.wait(lock, [&] { return slots_[s].pending == 0; });
            }
            const bool ok = read_chunk(seq, buffers_[s]->p);
            std::lock_guard lock(mu_);
            if (!ok) {
                failed_ = true;
                cv_.notify_all();
                return;
            }
            slots_[s] = Slot{seq, chunk_size(seq), consumers_};
            cv_.notify_all();
        }
    }

    void consume(const std::function<void(const Chunk&)>& f, bool reports) {
        for (std::uint64_t seq = 0; seq < n_chunks_; ++seq) {
            const auto s = seq % slots_.size();
            std::size_t size = 0;
            {
                std::unique_lock lock(mu_);
                cv_.wait(lock, [&] { return failed_ || slots_[s].seq == seq; });
                if (slots_[s].seq != seq) return;  // the reader failed before this chunk
                size = slots_[s].size;
            }
            f(Chunk{chunk_offset(seq), buffers_[s]->p, size});
            if (reports) report(seq);
            std::lock_guard lock(mu_);
            if (--slots_[s].pending == 0) cv_.notify_all();
        }
    }

    const std::filesystem::path& path_;
    int fd_;
    std::uint64_t begin_;
    std::uint64_t end_;
    std::size_t chunk_;
    std::uint64_t n_chunks_;
    const std::function<void(std::uint64_t, std::uint64_t)>& progress_;

    std::vector<std::unique_ptr<Buffer>> buffers_;
    std::vector<Slot> slots_;
    std::size_t consumers_ = 0;
    std::mutex mu_;
    std::condition_variable cv_;
    bool failed_ = false;
    Error error_{Code::io_error, 0, ""};
};

bool in_bounds(const ByteRange& r, std::uint64_t file_size) {
    std::uint64_t end = 0;
    return !__builtin_add_overflow(r.offset, r.size, &end) && end <= file_size;
}

}  // namespace

namespace {

// hash_file, with one more consumer of the chunks when `rows` is given (digest_file's row check).
Result<RangeHashes> hash_ranges(const std::filesystem::path& path, std::span<const ByteRange> ranges,
                                const HashOptions& options, RowCheck* rows) {
    util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));  // a FIFO must not block us
    if (!fd) return io_error(path, "open", errno);
    struct stat st {};
    if (fstat(fd.get(), &st) != 0) return io_error(path, "stat", errno);
    if (!S_ISREG(st.st_mode)) return Error{Code::io_error, 0, fmt::format("'{}' is not a regular file", path.string())};
    (void)posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);

    RangeHashes out;
    out.file_size = static_cast<std::uint64_t>(st.st_size);
    out.xxh3.assign(ranges.size(), std::nullopt);

    // The ranges that lie in the file, by offset; empty ones hash at once.
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        if (!in_bounds(ranges[i], out.file_size)) continue;
        if (ranges[i].size == 0) {
            out.xxh3[i] = XXH3_64bits(nullptr, 0);
        } else {
            order.push_back(i);
        }
    }
    std::sort(order.begin(), order.end(), [&](auto a, auto b) { return ranges[a].offset < ranges[b].offset; });
    for (std::size_t k = 1; k < order.size(); ++k) {
        const auto& prev = ranges[order[k - 1]];
        const auto& cur = ranges[order[k]];
        if (cur.offset < prev.offset + prev.size) {
            return Error{Code::tensors_overlap, cur.offset,
                         fmt::format("byte ranges [{}, {}) and [{}, {}) overlap: each range must be hashed alone",
                                     prev.offset, prev.offset + prev.size, cur.offset, cur.offset + cur.size)};
        }
    }

    // Only the whole file needs reading for SHA-256; otherwise the span of the ranges.
    std::uint64_t begin = 0;
    std::uint64_t end = out.file_size;
    if (!options.sha256) {
        begin = order.empty() ? 0 : ranges[order.front()].offset;
        end = order.empty() ? 0 : ranges[order.back()].offset + ranges[order.back()].size;
    }

    RangeXxh3 xxh3(ranges, std::move(order), out.xxh3);
    Sha256 sha;
    if (!xxh3.ok()) return Error{Code::io_error, 0, "out of memory for the XXH3 state"};
    std::vector<std::function<void(const Chunk&)>> others;
    if (options.sha256) others.emplace_back([&sha](const Chunk& c) { sha.consume(c); });
    if (rows != nullptr) others.emplace_back([rows](const Chunk& c) { rows->consume(c); });
    Pipeline pipeline(path, fd.get(), begin, end, options);
    const bool threaded = options.threads && std::thread::hardware_concurrency() > 1;
    auto status =
        pipeline.run([&xxh3](const Chunk& c) { xxh3.consume(c); }, others, threaded, options.chunks_in_flight);
    if (!status) return status.error();
    if (options.sha256) {
        out.sha256 = sha.finish();
        if (out.sha256.empty()) return Error{Code::io_error, 0, "OpenSSL could not compute SHA-256"};
    }
    return out;
}

}  // namespace

Result<RangeHashes> hash_file(const std::filesystem::path& path, std::span<const ByteRange> ranges,
                              const HashOptions& options) {
    return hash_ranges(path, ranges, options, nullptr);
}

Result<DataDigest> digest_file(const std::filesystem::path& path, const File& file, const HashOptions& options) {
    std::vector<ByteRange> ranges;
    ranges.reserve(file.tensors().size());
    std::vector<RowCheck::Target> targets;
    for (std::size_t i = 0; i < file.tensors().size(); ++i) {
        const auto& t = file.tensors()[i];
        ranges.push_back({file.data_offset() + t.offset, t.size});
        if (!options.check_rows || !row_check_applies(t.type) || t.traits.bytes_per_block == 0 || t.size == 0) continue;
        const std::uint64_t ne0 = t.n_dims ? std::max<std::uint64_t>(t.ne[0], 1) : 1;
        targets.push_back(
            {i, ranges.back().offset, t.size, t.type, t.traits.bytes_per_block, t.traits.block_size, ne0});
    }
    RowCheck rows(std::move(targets));
    auto hashes = hash_ranges(path, ranges, options, options.check_rows ? &rows : nullptr);
    if (!hashes) return hashes.error();
    DataDigest out;
    out.file_size = hashes->file_size;
    out.sha256 = std::move(hashes->sha256);
    out.tensors.reserve(ranges.size());
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        if (!hashes->xxh3[i]) {  // only if the file shrank after it was parsed
            return Error{Code::tensor_data_out_of_bounds, ranges[i].offset,
                         fmt::format("tensor '{}' data runs past the end of '{}': the file changed after it was read",
                                     file.tensors()[i].name, path.string())};
        }
        out.tensors.push_back(
            {std::string(file.tensors()[i].name), ranges[i].offset, ranges[i].size, *hashes->xxh3[i]});
    }
    for (auto& [index, finding] : rows.take()) {
        finding.tensor = std::string(file.tensors()[index].name);
        out.non_finite.push_back(std::move(finding));
    }
    return out;
}

std::string_view data_status_name(DataStatus status) {
    switch (status) {
        case DataStatus::same:
            return "same";
        case DataStatus::differs:
            return "differs";
        case DataStatus::out_of_bounds:
            return "out_of_bounds";
    }
    return "unknown";
}

std::string_view header_status_name(HeaderStatus status) {
    switch (status) {
        case HeaderStatus::same:
            return "same";
        case HeaderStatus::moved:
            return "moved";
        case HeaderStatus::missing:
            return "missing";
        case HeaderStatus::unknown:
            return "unknown";
    }
    return "unknown";
}

std::vector<const TensorCheck*> DataCheck::damaged() const {
    std::vector<const TensorCheck*> out;
    for (const auto& t : tensors) {
        if (t.data != DataStatus::same) out.push_back(&t);
    }
    return out;
}

Result<DataCheck> check_data(const std::filesystem::path& path, const DataDigest& manifest, const File* copy,
                             const HashOptions& options) {
    std::vector<ByteRange> ranges;
    ranges.reserve(manifest.tensors.size());
    for (const auto& t : manifest.tensors) ranges.push_back({t.offset, t.size});
    HashOptions opts = options;
    opts.sha256 = true;
    auto hashes = hash_file(path, ranges, opts);
    if (!hashes) return hashes.error();

    DataCheck out;
    out.file_size = hashes->file_size;
    out.sha256 = std::move(hashes->sha256);
    out.file_size_matches = out.file_size == manifest.file_size;
    out.sha256_matches = out.sha256 == manifest.sha256;

    std::unordered_map<std::string_view, const TensorInfo*> by_name;
    if (copy != nullptr) {
        for (const auto& t : copy->tensors()) by_name.emplace(t.name, &t);
    }
    out.tensors.reserve(manifest.tensors.size());
    for (std::size_t i = 0; i < manifest.tensors.size(); ++i) {
        const auto& m = manifest.tensors[i];
        TensorCheck c{m, hashes->xxh3[i], DataStatus::same, HeaderStatus::unknown};
        if (!c.xxh3) {
            c.data = DataStatus::out_of_bounds;
        } else if (*c.xxh3 != m.xxh3) {
            c.data = DataStatus::differs;
        }
        if (copy != nullptr) {
            const auto it = by_name.find(m.name);
            if (it == by_name.end()) {
                c.header = HeaderStatus::missing;
            } else {
                const auto& t = *it->second;
                const bool same = copy->data_offset() + t.offset == m.offset && t.size == m.size;
                c.header = same ? HeaderStatus::same : HeaderStatus::moved;
                by_name.erase(it);
            }
        }
        out.tensors.push_back(std::move(c));
    }
    if (copy != nullptr) {
        for (const auto& t : copy->tensors()) {
            if (by_name.contains(t.name)) out.extra.emplace_back(t.name);
        }
    }
    return out;
}

std::string hex64(std::uint64_t v) {
    return fmt::format("{:016x}", v);
}

std::optional<std::uint64_t> parse_hex64(std::string_view s) {
    if (s.size() != 16) return std::nullopt;
    std::uint64_t v = 0;
    for (char ch : s) {
        unsigned d = 0;
        if (ch >= '0' && ch <= '9')
            d = static_cast<unsigned>(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            d = static_cast<unsigned>(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            d = static_cast<unsigned>(ch - 'A' + 10);
        else
            return std::nullopt;
        v = v << 4 | d;
    }
    return v;
}

}  // namespace gguf
