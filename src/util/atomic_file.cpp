#include "atomic_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "cleanup.hpp"
#include "fd.hpp"

namespace gguf::util {
namespace {

namespace fs = std::filesystem;

constexpr int kMaxSymlinkHops = 40;  // as the kernel's own limit (ELOOP)

struct Resolved {
    enum Kind { absent, regular, direct } kind;
    fs::path path;  // the file to write: the given path with every symbolic link followed
    mode_t mode = 0;
};

WriteError io_failure(const fs::path& given, int err) {
    return {WriteFailure::io, fmt::format("cannot write '{}': {}", given.string(), std::strerror(err))};
}

// Follows symbolic links one at a time (a dangling link names the file to create), then classifies
// what is there.
std::optional<WriteError> resolve(const fs::path& given, Resolved& out) {
    fs::path p = given;
    for (int hops = 0;; ++hops) {
        struct stat st {};
        if (::lstat(p.c_str(), &st) != 0) {
            if (errno != ENOENT) return io_failure(given, errno);
            out = {Resolved::absent, p};
            return std::nullopt;
        }
        if (S_ISLNK(st.st_mode)) {
            if (hops == kMaxSymlinkHops) return io_failure(given, ELOOP);
            std::error_code ec;
            const auto target = fs::read_symlink(p, ec);
            if (ec) return io_failure(given, ec.value());
            p = target.is_absolute() ? target : p.parent_path() / target;
            continue;
        }
        if (S_ISREG(st.st_mode)) {
            out = {Resolved::regular, p, static_cast<mode_t>(st.st_mode & 07777)};
        } else if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
            out = {Resolved::direct, p};
        } else if (S_ISDIR(st.st_mode)) {
            return WriteError{WriteFailure::bad_target, fmt::format("'{}' is a directory, not a file", given.string())};
        } else {
            return WriteError{WriteFailure::bad_target,
                              fmt::format("'{}' is not a regular file, a character device or a FIFO", given.string())};
        }
        return std::nullopt;
    }
}

// A name no other writer uses: pid, a counter and the clock, as hex (short: a long target name
// must not make the temporary name too long).
std::string temp_name() {
    static std::atomic<unsigned> counter{0};
    const auto now = static_cast<unsigned long long>(std::chrono::steady_clock::now().time_since_epoch().count());
    return fmt::format(".gguf-crossval-{:x}-{:x}-{:x}", static_cast<unsigned>(::getpid()), counter++, now & 0xffffff);
}

std::optional<WriteError> replace(const fs::path& given, const Resolved& r,
                                  const std::function<bool(const WriteTarget&)>& emit) {
    const fs::path dir = r.path.has_parent_path() ? r.path.parent_path() : fs::path(".");
    std::error_code ec;
    if (r.kind == Resolved::absent) {
        fs::create_directories(dir, ec);
        if (ec) return io_failure(given, ec.value());
    }
    fs::path tmp;
    UniqueFd fd;
    std::optional<TempFileGuard> guard;  // removed on every way out but the rename, signals included
    for (int attempt = 0; attempt < 100 && !fd; ++attempt) {
        tmp = dir / temp_name();
        guard.emplace(tmp);
        fd.reset(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
        const int open_errno = errno;
        if (fd) {
            guard->created();
        } else {
            guard.reset();
            if (open_errno != EEXIST) return io_failure(given, open_errno);
        }
    }
    if (!fd) return io_failure(given, EEXIST);
    if (r.kind == Resolved::regular) (void)::fchmod(fd.get(), r.mode);
    if (!emit({fd.get(), true})) return io_failure(given, errno);
    if (!fd.close()) return io_failure(given, errno);
    if (::rename(tmp.c_str(), r.path.c_str()) != 0) return io_failure(given, errno);
    guard->release();
    return std::nullopt;
}

}  // namespace

bool write_all(int fd, const void* data, std::size_t n) {
    const auto* p = static_cast<const char*>(data);
    while (n > 0) {
        const auto w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

UniqueFd unnamed_file(const std::filesystem::path& dir) {
    UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    // A file system without O_TMPFILE: a named file, removed as soon as it is open.
    for (int attempt = 0; !fd && attempt < 100; ++attempt) {
        const auto name = dir / temp_name();
        TempFileGuard guard(name);  // a signal between the open and the removal removes it too
        fd.reset(::open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (fd) {
            guard.created();  // and the guard removes it now: the descriptor keeps the file
        } else if (errno != EEXIST) {
            break;
        }
    }
    return fd;
}

std::optional<WriteError> check_output_path(const std::filesystem::path& path) {
    Resolved r{};
    auto e = resolve(path, r);
    if (e && e->kind == WriteFailure::bad_target) return e;
    return std::nullopt;
}

std::optional<WriteError> write_file(const std::filesystem::path& path,
                                     const std::function<bool(const WriteTarget&)>& emit) {
    Resolved r{};
    if (auto e = resolve(path, r)) return e;
    if (r.kind != Resolved::direct) return replace(path, r, emit);
    UniqueFd fd(::open(r.path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return io_failure(path, errno);
    if (!emit({fd.get(), false})) return io_failure(path, errno);
    if (!fd.close()) return io_failure(path, errno);
    return std::nullopt;
}

std::optional<WriteError> write_file(const std::filesystem::path& path, std::string_view bytes) {
    return write_file(path, [bytes](const WriteTarget& t) { return write_all(t.fd, bytes.data(), bytes.size()); });
}

}  // namespace gguf::util
