// Memory stays a small multiple of the input: a byte-swapped file with one 20 MB u8 array once cost
// 1.6 GB in inspect and crossval (every element turned into a Value of about 80 bytes).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/run.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using testing_support::quoted;
using testing_support::run_command;

const std::string kBin = GGUF_CROSSVAL_BIN;
constexpr std::uint64_t kElements = 20'000'000;

void put_be(std::string& out, std::uint64_t v, int bytes) {
    for (int b = bytes - 1; b >= 0; --b) out.push_back(static_cast<char>((v >> (8 * b)) & 0xff));
}

// A big-endian GGUF v3 file: no tensors, one key "big" holding a u8 array of kElements zeros,
// padded to the default alignment (32).
void write_byte_swapped_array(const fs::path& path) {
    std::string head = "GGUF";
    put_be(head, 3, 4);
    put_be(head, 0, 8);  // tensors
    put_be(head, 1, 8);  // key-values
    put_be(head, 3, 8);
    head += "big";
    put_be(head, 9, 4);  // array
    put_be(head, 0, 4);  // of u8
    put_be(head, kElements, 8);
    std::ofstream out(path, std::ios::binary);
    out << head;
    const std::string chunk(1 << 20, '\0');
    std::uint64_t left = kElements + (32 - (head.size() + kElements) % 32) % 32;
    while (left > 0) {
        const auto n = std::min<std::uint64_t>(left, chunk.size());
        out.write(chunk.data(), static_cast<std::streamsize>(n));
        left -= n;
    }
}

// Peak resident memory of a command, in MiB (GNU time's %M is KiB).
long peak_mib(const std::string& command, int& exit_code) {
    const auto r = run_command("/usr/bin/time -f 'peak %M' " + command + " >/dev/null");
    exit_code = r.exit_code;
    const auto at = r.err.rfind("peak ");
    return at == std::string::npos ? -1 : std::stol(r.err.substr(at + 5)) / 1024;
}

class MemoryBounds : public testing_support::TempDirTest {};

TEST_F(MemoryBounds, ByteSwappedArrayCostsASmallMultipleOfItsSize) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP()
        << "memory bounds are measured in the plain build: ASan's shadow memory and quarantine add to the peak";
#endif
    const auto path = dir_ / "swapped.gguf";
    write_byte_swapped_array(path);
    for (const std::string cmd : {"inspect", "inspect --json", "validate"}) {
        int code = -1;
        const auto mib = peak_mib(kBin + " " + cmd + " " + quoted(path), code);
        EXPECT_EQ(code, 0) << cmd;
        EXPECT_GT(mib, 0) << cmd;
        EXPECT_LT(mib, 8 * 20) << cmd << ": " << mib << " MiB for a 20 MB file";
    }
}

}  // namespace
