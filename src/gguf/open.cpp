// Opening a file: the metadata read into memory, the data section memory-mapped.
//
// Why not simply map the whole file: a file that shrinks while we read it (a download still running,
// a converter rewriting it) turns every access to a page past its new end into SIGBUS. So the bytes
// the parser reads (header, key-values, tensor infos) are read with pread into an anonymous mapping
// the size of the file; a short read is the file shrinking, and the parse then sees the file as it
// now is. Only the data section beyond what was read is a view of the file itself, and our own
// commands read tensor data with pread (gguf_data's hashing), never through that view.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "gguf/reader.hpp"
#include "util/fd.hpp"

namespace gguf {
namespace detail {
Result<File> parse_with_extent(Bytes bytes, std::uint64_t& extent);  // reader.cpp
}  // namespace detail

namespace {

// Read first; doubled while the metadata reaches past it. Most headers fit; a large vocabulary
// (a 128k-token Llama 3 header is about 8 MB) costs one or two more parses.
constexpr std::size_t kFirstRead = std::size_t{8} << 20;

struct Mapping {
    void* addr = nullptr;
    std::size_t size = 0;
    ~Mapping() {
        if (addr != nullptr) munmap(addr, size);
    }
};

std::string_view kind_of(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

// pread until [from, to) is filled or the file ends. Returns the new end of what was read.
std::size_t fill(int fd, std::byte* base, std::size_t from, std::size_t to, int& err) {
    while (from < to) {
        const auto n = ::pread(fd, base + from, to - from, static_cast<off_t>(from));
        if (n < 0) {
            if (errno == EINTR) continue;
            err = errno;
            break;
        }
        if (n == 0) break;  // the file is shorter than it was
        from += static_cast<std::size_t>(n);
    }
    return from;
}

constexpr std::size_t kHugePage = std::size_t{2} << 20;

// An anonymous mapping of at least `size` bytes; `size` becomes its length. From 2 MiB on it starts
// on a 2 MiB boundary (mapped larger, the excess unmapped again) and its length is a multiple of
// 2 MiB, so that transparent huge pages can back all of it, the last, partial 2 MiB included (else
// those are 4 KiB pages, each its own fault: about half a millisecond of opening an 8 MB
// vocabulary). The length past the file is never read into nor written.
void* map_anonymous(std::size_t& size) {
    constexpr int kFlags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    if (size < kHugePage) return mmap(nullptr, size, PROT_READ | PROT_WRITE, kFlags, -1, 0);
    size = (size + kHugePage - 1) & ~(kHugePage - 1);
    void* raw = mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, kFlags, -1, 0);
    if (raw == MAP_FAILED) return raw;
    const auto start = reinterpret_cast<std::uintptr_t>(raw);
    const auto aligned = (start + kHugePage - 1) & ~(std::uintptr_t{kHugePage} - 1);
    if (aligned > start) munmap(raw, aligned - start);
    munmap(reinterpret_cast<void*>(aligned + size),
           start + kHugePage - aligned);  // at least a page: start is page-aligned
#ifdef MADV_HUGEPAGE
    (void)madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);  // a hint: the whole mapping, one VMA
#endif
    return reinterpret_cast<void*>(aligned);
}

// Make [from, to) of the anonymous mapping ready to be read into, at a fraction of the cost of one
// page fault per page during the copy (which dominated opening a large vocabulary): the pages
// allocated in one call (huge pages where map_anonymous got them). A hint; a kernel that refuses it
// leaves the faults to happen as before.
void prepare(std::byte* base, std::size_t from, std::size_t to) {
    if (from >= to) return;
#ifdef MADV_POPULATE_WRITE
    (void)madvise(base + from, to - from, MADV_POPULATE_WRITE);
#endif
}

}  // namespace

Result<File> open(const std::filesystem::path& path) {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
    util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (!fd) return io_error(path, "open", errno);
    struct stat st {};
    if (fstat(fd.get(), &st) != 0) return io_error(path, "stat", errno);
    if (!S_ISREG(st.st_mode)) {
        return Error{Code::io_error, 0,
                     fmt::format("'{}' is {}, not a regular file", path.string(), kind_of(st.st_mode))};
    }
    auto size = static_cast<std::size_t>(st.st_size);
    if (size == 0) {
        // /proc and /sys files say they are empty and are not: they are no GGUF files on disk.
        char probe = 0;
        if (::read(fd.get(), &probe, 1) > 0) {
            return Error{Code::io_error, 0,
                         fmt::format("'{}' reports a size of 0 but has content (a /proc or /sys file?): not a file "
                                     "that can be read as GGUF",
                                     path.string())};
        }
    }
    if (size == 0) return parse({});

    auto mapping = std::make_shared<Mapping>();
    std::size_t length = size;
    void* addr = map_anonymous(length);
    if (addr == MAP_FAILED) return io_error(path, "map", errno);
    mapping->addr = addr;
    mapping->size = length;
    auto* base = static_cast<std::byte*>(addr);

    std::size_t read_end = 0;
    for (std::size_t want = std::min(size, kFirstRead);; want = std::min(size, want * 2)) {
        prepare(base, read_end, want);
        int err = 0;
        read_end = fill(fd.get(), base, read_end, want, err);
        if (err != 0) return io_error(path, "read", err);
        if (read_end < want) size = read_end;  // it shrank: parse what the file now holds
        std::uint64_t extent = 0;
        auto file = detail::parse_with_extent(Bytes(base, size), extent);
        if (read_end < size && extent > read_end) continue;  // the parse reached bytes not read yet
        if (read_end < size) {
            // The data section past what was read: a read-only view of the file (page-aligned: every
            // read size is a multiple of kFirstRead).
            if (mmap(base + read_end, size - read_end, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd.get(),
                     static_cast<off_t>(read_end)) == MAP_FAILED) {
                return io_error(path, "map", errno);
            }
        }
        mprotect(base, read_end, PROT_READ);
        if (!file) return file.error();
        file->owner_ = mapping;
        return file;
    }
}

}  // namespace gguf
