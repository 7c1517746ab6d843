// Writing an output file (a report, a fixture, logits) so that nothing but a regular file is ever
// replaced and no reader ever sees half of one.
//
// - A new path or a regular file: the content goes to a temporary file in the same directory
//   (".gguf-crossval-XXXXXX", short whatever the target's name), which is renamed over the target.
//   An existing file keeps its permissions; a new one gets 0666 minus the umask. Parent directories
//   are created.
// - A symbolic link is written through: the file it (finally) points to is replaced as above, with
//   the temporary file beside that target, and the link stays a link.
// - A character device or FIFO (/dev/stdout, /dev/null, a named pipe) is written directly: that is
//   what a user who names one means.
// - A directory, socket or block device is refused (WriteFailure::bad_target, a usage error).
// On every failure the temporary file is removed, the old file is left as it was, and the message
// carries the system's reason.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "fd.hpp"

namespace gguf::util {

enum class WriteFailure {
    bad_target,  // the path names something that is not an output file (a directory...): a usage error
    io,          // the write itself failed (disk full, file too large, no permission...)
};

struct WriteError {
    WriteFailure kind;
    std::string message;  // "cannot write 'PATH': No space left on device"
};

// Where the bytes go, as resolved from the path the user gave.
struct WriteTarget {
    int fd;         // open for writing
    bool seekable;  // false for FIFOs and character devices: no pwrite, no seeking back
};

// Writes what `emit` produces. `emit` returns false on a failed write and leaves errno set.
std::optional<WriteError> write_file(const std::filesystem::path& path,
                                     const std::function<bool(const WriteTarget&)>& emit);
std::optional<WriteError> write_file(const std::filesystem::path& path, std::string_view bytes);

// Refuses, before any work is done, a path that write_file would refuse as bad_target.
std::optional<WriteError> check_output_path(const std::filesystem::path& path);

// write(2) until all `n` bytes are written (partial writes, EINTR). False with errno set on failure.
bool write_all(int fd, const void* data, std::size_t n);

// A temporary file in `dir` (read-write) that has no name: nothing is left behind however the process
// ends. O_TMPFILE where the file system has it, else a named file unlinked at once (a signal in
// between removes it). Not valid (errno set) when no file could be made there.
UniqueFd unnamed_file(const std::filesystem::path& dir);

}  // namespace gguf::util
