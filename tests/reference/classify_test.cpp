// classify(): the reference's messages, as llama.cpp/ggml format them at the pinned commit (the
// format strings of ggml/src/gguf.cpp, src/llama-model-loader.cpp, src/llama-model.cpp, src/llama.cpp
// and ggml-quants.c, filled in by hand), mapped to failure classes.
#include <gtest/gtest.h>

#include <set>

#include "reference/reference.hpp"

namespace gguf::reference {
namespace {

struct Case {
    const char* text;
    FailureClass expected;
};

class Classify : public ::testing::TestWithParam<Case> {};

TEST_P(Classify, MapsTheMessageToItsClass) {
    EXPECT_EQ(failure_class_name(classify(GetParam().text)), failure_class_name(GetParam().expected))
        << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(
    RealMessages, Classify,
    ::testing::Values(
        Case{"gguf_init_from_file_impl: invalid magic characters: 'XGUF', expected 'GGUF'\n"
             "gguf_init_from_file: failed to load GGUF",
             FailureClass::invalid_gguf},
        Case{"gguf_init_from_file_impl: failed to read magic\n", FailureClass::invalid_gguf},
        Case{"gguf_init_from_file_impl: GGUFv1 is no longer supported, please use a more up-to-date version\n",
             FailureClass::unsupported_version},
        Case{"gguf_init_from_file_impl: this GGUF file is version 4 but this software only supports up to version 3\n",
             FailureClass::unsupported_version},
        Case{"gguf_init_from_file_impl: failed to load model: this GGUF file version 50331648 is extremely large, is "
             "there a mismatch between the host and model endianness?\n",
             FailureClass::unsupported_version},
        Case{"gguf_init_from_file_impl: bad GGUF version: 0\n", FailureClass::unsupported_version},
        Case{"gguf_init_from_file: failed to open GGUF file '/tmp/x.gguf' (No such file or directory)\n",
             FailureClass::file_unreadable},
        Case{"gguf_init_from_file: failed to open GGUF file '/root/x.gguf' (Permission denied)\n",
             FailureClass::file_unreadable},
        Case{"gguf_init_from_file_impl: tensor 'a' has invalid ggml type 99. should be in [0, 43)\n",
             FailureClass::unknown_tensor_type},
        Case{"gguf_init_from_file_impl: tensor 'a' of type 36 (DEPRECATED) has 256 elements per row, not a multiple "
             "of block size (0)\n",
             FailureClass::unknown_tensor_type},
        Case{"gguf_init_from_file_impl: tensor 'a' of type 8 (q8_0) has 31 elements per row, not a multiple of block "
             "size (32)\n",
             FailureClass::invalid_gguf},
        Case{"gguf_init_from_file_impl: alignment 12 is not a power of 2\n", FailureClass::invalid_gguf},
        Case{"gguf_init_from_file_impl: duplicate key 'general.name' for tensors 0 and 1 \n",
             FailureClass::invalid_gguf},
        Case{"gguf_init_from_file_impl: tensor 'b' has offset 64, expected 32\n"
             "gguf_init_from_file_impl: failed to read tensor data\n",
             FailureClass::invalid_gguf},
        Case{"gguf_init_from_file_impl: string length 4294967296 exceeds remaining file size 100 bytes\n",
             FailureClass::invalid_gguf},
        Case{"gguf_init_from_file_impl: tensor 'x' has invalid number of dimensions: 5 > 4\n",
             FailureClass::invalid_gguf},
        Case{"llama_model_load: error loading model: error loading model architecture: unknown model architecture: "
             "'test'\n",
             FailureClass::unknown_architecture},
        Case{"llama_model_load: error loading model: error loading model hyperparameters: key not found in model: "
             "llama.context_length\n",
             FailureClass::missing_key},
        Case{"llama_model_load: error loading model: key llama.block_count has wrong type str but expected type u32\n",
             FailureClass::missing_key},
        Case{"llama_model_load: error loading model: check_tensor_dims: tensor 'output_norm.weight' not found\n",
             FailureClass::missing_tensor},
        Case{"llama_model_load: error loading model: missing tensor 'blk.0.attn_q.weight'\n",
             FailureClass::missing_tensor},
        Case{"llama_model_load: error loading model: check_tensor_dims: tensor 'token_embd.weight' has wrong shape; "
             "expected    32,     8, got    32,     9,     1,     1\n",
             FailureClass::wrong_shape},
        Case{"llama_model_load: error loading model: tensor 'blk.0.ffn_down.weight' data is not within the file "
             "bounds, model is corrupted or incomplete\n",
             FailureClass::data_out_of_bounds},
        Case{"ggml_validate_row_data: found nan value at block 3\n"
             "llama_model_load: error loading model: tensor 'output_norm.weight' has invalid data\n",
             FailureClass::invalid_tensor_data},
        Case{"ggml_validate_row_data: found inf value at block 0\n", FailureClass::invalid_tensor_data},
        Case{"/src/llama-model.cpp:812: GGML_ASSERT(hparams.n_expert <= LLAMA_MAX_EXPERTS) failed\n",
             FailureClass::abort_or_signal},
        Case{"llama_model_load_from_file_impl: no backends are loaded. hint: use ggml_backend_load() or "
             "ggml_backend_load_all() to load a backend before calling this function\n",
             FailureClass::reference_unavailable},
        Case{"", FailureClass::other},
        Case{"llama_model_load_from_file_impl: failed to load model\n", FailureClass::other}));

TEST(ClassifyText, NamesTheLineThatDecided) {
    const auto c = classify_text(
        "llama_model_loader: loaded meta data with 4 key-value pairs and 0 tensors\n"
        "llama_model_load: error loading model: unknown model architecture: 'test'\n"
        "llama_model_load_from_file_impl: failed to load model\n");
    EXPECT_EQ(c.failure, FailureClass::unknown_architecture);
    EXPECT_EQ(c.line, "llama_model_load: error loading model: unknown model architecture: 'test'");
}

TEST(FailureClassName, EveryClassHasADistinctSnakeCaseName) {
    const FailureClass all[] = {FailureClass::none,
                                FailureClass::file_unreadable,
                                FailureClass::invalid_gguf,
                                FailureClass::unsupported_version,
                                FailureClass::unknown_tensor_type,
                                FailureClass::unknown_architecture,
                                FailureClass::missing_key,
                                FailureClass::missing_tensor,
                                FailureClass::wrong_shape,
                                FailureClass::data_out_of_bounds,
                                FailureClass::invalid_tensor_data,
                                FailureClass::abort_or_signal,
                                FailureClass::timeout,
                                FailureClass::reference_unavailable,
                                FailureClass::other};
    std::set<std::string_view> names;
    for (auto f : all) {
        const auto n = failure_class_name(f);
        EXPECT_FALSE(n.empty());
        for (char c : n) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << n;
        names.insert(n);
    }
    EXPECT_EQ(names.size(), std::size(all));
    EXPECT_EQ(failure_class_name(FailureClass::abort_or_signal), "abort_or_signal");
}

}  // namespace
}  // namespace gguf::reference
