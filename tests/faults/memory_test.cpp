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

// A manifest of 10^6 entries naming files that do not exist (each one is unavailable to every reader,
// no reader process is started): once 2 GB in a JSON tree for the manifest and 12.7 GB with the tree
// of matrix.json. The manifest is read entry by entry; each file's matrix.json entry goes to an unnamed
// spool file as the file is finished, and a file on which every reader agrees then drops its cells:
// what stays is the manifest's fields of each file (measured: 340 MiB for a 98 MiB manifest, 3.5
// times; 1,284 MiB, 13 times, when every file kept its five cells).
TEST_F(MemoryBounds, AManifestOfAMillionEntriesCostsASmallMultipleOfItsSize) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP()
        << "memory bounds are measured in the plain build: ASan's shadow memory and quarantine add to the peak";
#endif
    constexpr std::size_t kEntries = 1'000'000;
    {
        std::ofstream out(dir_ / "manifest.json", std::ios::binary);
        out << "{\"files\": [\n";
        for (std::size_t i = 0; i < kEntries; ++i) {
            out << "{\"file\": \"missing/f" << i << ".gguf\", \"valid\": " << (i % 2 ? "false" : "true")
                << ", \"category\": \"gen\", \"description\": \"generated entry\"}"
                << (i + 1 < kEntries ? ",\n" : "\n");
        }
        out << "]}\n";
    }
    const auto manifest_mib = static_cast<double>(fs::file_size(dir_ / "manifest.json")) / (1 << 20);
    int code = -1;
    const auto mib = peak_mib(kBin + " matrix -o " + quoted(dir_ / "out") + " " + quoted(dir_), code);
    EXPECT_EQ(code, 0);  // every file missing: unavailable, never a verdict on our reader
    EXPECT_GT(mib, 0);
    EXPECT_LT(static_cast<double>(mib), 4 * manifest_mib) << mib << " MiB for a " << manifest_mib << " MiB manifest";
    // Every reader's cell says unavailable: the totals of matrix.md list no accept, reject or crash.
    std::ifstream md(dir_ / "out" / "matrix.md");
    const std::string text{std::istreambuf_iterator<char>(md), std::istreambuf_iterator<char>()};
    EXPECT_NE(text.find("1000000 files"), std::string::npos) << text.substr(0, 400);
    // matrix.json has every entry, in the manifest's order, and no spool file is left beside it.
    std::ifstream json_in(dir_ / "out" / "matrix.json");
    std::string line, last_name;
    std::size_t names = 0;
    while (std::getline(json_in, line)) {
        if (line.rfind("      \"name\": \"missing/f", 0) == 0) {  // a file's, not a reader's
            ++names;
            last_name = line;
        }
    }
    EXPECT_EQ(names, kEntries);
    EXPECT_NE(last_name.find("missing/f999999.gguf"), std::string::npos) << last_name;
    std::size_t in_out = 0;
    for (const auto& e : fs::directory_iterator(dir_ / "out")) {
        ++in_out;
        EXPECT_TRUE(e.path().filename() == "matrix.json" || e.path().filename() == "matrix.md") << e.path();
    }
    EXPECT_EQ(in_out, 2u);
}

}  // namespace
