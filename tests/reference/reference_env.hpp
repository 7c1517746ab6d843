// Test support: the real reference, located once per test binary. Tests that need it FAIL (never
// skip) when it is missing, and say how to install it.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <string>
#include <vector>

#include "reference/reference.hpp"

namespace testing_support {

inline const gguf::reference::Located& located_reference() {
    static const gguf::reference::Located located = gguf::reference::locate(std::nullopt);
    return located;
}

// Use as: ASSERT_REFERENCE(); then reference() is valid.
#define ASSERT_REFERENCE()                                                                  \
    ASSERT_TRUE(::testing_support::located_reference().ref.has_value())                     \
        << "the reference is unavailable (" << ::testing_support::located_reference().error \
        << "). Run scripts/fetch-reference to install the pinned llama.cpp."

inline const gguf::reference::Reference& reference() {
    return *located_reference().ref;
}

// Removes the directories handed out by test_dir() when the test process ends.
struct TestDirs {
    std::vector<std::filesystem::path> dirs;
    ~TestDirs() {
        std::error_code ec;
        for (const auto& d : dirs) std::filesystem::remove_all(d, ec);
    }
};

// A fresh directory for this test's files (removed at exit).
inline std::filesystem::path test_dir() {
    static TestDirs cleanup;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    auto dir = std::filesystem::temp_directory_path() /
               ("gguf_reference_" + std::to_string(::getpid()) + "_" + info->test_suite_name() + "_" + info->name());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    cleanup.dirs.push_back(dir);
    return dir;
}

}  // namespace testing_support
