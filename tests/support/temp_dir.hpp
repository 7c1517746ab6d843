// Test support: fresh, private temporary directories, one per test. TempDirTest is a fixture base
// that makes one in SetUp and removes it in TearDown; test_dir() gives a plain TEST one, removed
// when the test process ends.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace testing_support {

// An empty directory named after the process and `name` (created anew); no test need be running.
inline std::filesystem::path fresh_named_dir(const std::string& name) {
    auto dir = std::filesystem::temp_directory_path() / ("gguf_test_" + std::to_string(::getpid()) + "_" + name);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

// An empty directory named after the process and the running test (created anew).
inline std::filesystem::path fresh_test_dir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return fresh_named_dir(std::string(info->test_suite_name()) + "_" + info->name());
}

// `dir`, removed when the test process ends.
inline std::filesystem::path removed_at_exit(std::filesystem::path dir) {
    struct Dirs {
        std::vector<std::filesystem::path> dirs;
        ~Dirs() {
            std::error_code ec;
            for (const auto& d : dirs) std::filesystem::remove_all(d, ec);
        }
    };
    static Dirs cleanup;
    cleanup.dirs.push_back(dir);
    return dir;
}

// A fresh directory for this test's files, removed when the test process ends.
inline std::filesystem::path test_dir() {
    return removed_at_exit(fresh_test_dir());
}

// A fresh directory named after the process and `name` (for suite-wide or several per-test
// directories), removed when the test process ends.
inline std::filesystem::path scratch_dir(const std::string& name) {
    return removed_at_exit(fresh_named_dir(name));
}

class TempDirTest : public ::testing::Test {
protected:
    void SetUp() override { dir_ = fresh_test_dir(); }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::filesystem::path dir_;
};

}  // namespace testing_support
