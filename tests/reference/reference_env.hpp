// Test support: the real reference, located once per test binary. Tests that need it FAIL (never
// skip) when it is missing, and say how to install it.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <string>
#include <vector>

#include "reference/reference.hpp"
#include "support/temp_dir.hpp"

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

}  // namespace testing_support
