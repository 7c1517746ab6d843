// The typed vocabulary of a cross-validation run: which stage, why it failed, what the verdict is,
// which documented normalisation a note records. Decisions are made on these types; their names
// are rendered only where reports and terminal lines are written (verdict.cpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "gguf/error.hpp"
#include "reference/reference.hpp"

namespace gguf::crossval {

enum class StageId {
    reader,      // our reader (required)
    cpp_header,  // the reference's GGUF reader
    cpp_full,    // the reference's full model load
    logits,      // the reference's logits, optionally against a second source
    trace,       // the reference's intermediate tensors, optionally against a second source
    dequant,     // every tensor to f32 by our library and by ggml's to_float, bit for bit
    tokenize,    // the reference's tokenizer on texts, against expected ids, and its round trip
};
std::string_view stage_name(StageId stage);  // "reader", "cpp_header", ...

// Failures found by our own checks of a stage's output (not the reference's failure classes).
enum class CheckFailure {
    non_finite_logits,    // the reference produced NaN or infinite logits
    logits_diverge,       // the second source differs beyond the thresholds: a disagreement
    against_unavailable,  // the second source could not be read or run
    usage_error,          // not run: the command stopped at a usage error found after its flags were parsed
    trace_diverge,        // a tensor of the second source's trace differs beyond the thresholds: a disagreement
    nothing_compared,     // the two traces share no tensor
    dequant_differs,      // our dequantization differs from ggml's to_float: a disagreement
    dequant_unsupported,  // some tensors could not be compared (a type we or ggml cannot dequantize)
    tokens_differ,        // the reference's ids for some text are not the expected ones: a disagreement
    no_token_cases,       // nothing to tokenize, or the cases (vectors, token file, text file) are unreadable
};
std::string_view check_failure_name(CheckFailure failure);

// Why a stage failed: our reader's error code, the reference's failure class, or one of our checks.
// monostate: it did not fail.
using Failure = std::variant<std::monostate, gguf::Code, reference::FailureClass, CheckFailure>;
std::string failure_name(const Failure& failure);  // "" for monostate

// A failure that means the two sides disagree (never an XFAIL), as opposed to a stage that failed.
bool is_disagreement(const Failure& failure);
// A failure that means the reference gave no answer (missing, crashed, timed out, unreadable), as
// opposed to rejecting the file.
bool is_reference_malfunction(const Failure& failure);

// The verdict of one run.
enum class Verdict {
    pass,              // every stage passed
    pass_xfail,        // passed, with reference failures allowed by the soft-fail policy
    reader_rejected,   // our reader rejected the file
    readers_disagree,  // a field mismatch, an unexplained accept/reject split, diverging outputs
    reference_failed,  // a reference stage failed and no expectation or policy allows it
    unexpected_pass,   // --strict: a stage passed that an expectation declared as failing (XPASS)
    usage_error,       // nothing ran: bad input found after the flags were parsed (the notes say what)
};
std::string_view verdict_name(Verdict verdict);

// What a note records: a documented normalisation that was applied, or a fact of the run.
enum class NoteKind {
    zero_tensor_data_offset,  // ggml's unpadded data offset of a 0-tensor file, compared padded
    trailing_unit_dims,       // ggml drops trailing dimensions of size 1
    type_id_36,               // type id 36: I2_S to us, IQ4_NL_4_4 to ggml's table
    predicted_rejection,      // the reference rejects the file, as a portability warning predicts
    both_reject,              // both readers reject the file
    test_hook,                // a test hook altered our side
    fields_not_reported,      // a reader returns no such field, so it is not compared
    usage_error,              // why the run stopped before any stage
    vocab_only_load,          // a file without tensors loaded through the reference's vocabulary-only route
};

// "zero_tensor_data_offset", ...; and back (nullopt for a name that is none of them).
std::string_view note_kind_name(NoteKind kind);
std::optional<NoteKind> note_kind_from_name(std::string_view name);

struct Note {
    NoteKind kind;
    std::string text;  // the sentence shown to people

    bool operator==(const Note&) const = default;
};

}  // namespace gguf::crossval
