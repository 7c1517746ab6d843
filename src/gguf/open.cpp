// Opening a file: a read-only memory mapping that the parsed File keeps alive.
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf/reader.hpp"

namespace gguf {
namespace {

struct Mapping {
    void* addr = nullptr;
    std::size_t size = 0;
    ~Mapping() {
        if (addr != nullptr) munmap(addr, size);
    }
};

Error io_error(const std::filesystem::path& path, std::string_view what) {
    return Error{Code::io_error, 0, fmt::format("cannot {} '{}': {}", what, path.string(), std::strerror(errno))};
}

}  // namespace

Result<File> open(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_error(path, "open");
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        auto e = io_error(path, "stat");
        ::close(fd);
        return e;
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return Error{Code::io_error, 0, fmt::format("'{}' is not a regular file", path.string())};
    }
    auto mapping = std::make_shared<Mapping>();
    mapping->size = static_cast<std::size_t>(st.st_size);
    if (mapping->size > 0) {
        void* addr = mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (addr == MAP_FAILED) {
            auto e = io_error(path, "map");
            ::close(fd);
            return e;
        }
        mapping->addr = addr;
    }
    ::close(fd);
    Bytes bytes(static_cast<const std::byte*>(mapping->addr), mapping->size);
    auto file = parse(bytes);
    if (!file) return file.error();
    file->owner_ = mapping;
    return file;
}

}  // namespace gguf
