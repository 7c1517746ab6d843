// Names of the run vocabulary, as reports and terminal lines show them.
#include "verdict.hpp"

#include <utility>

namespace gguf::crossval {

std::string_view stage_name(StageId stage) {
    switch (stage) {
        case StageId::reader:
            return "reader";
        case StageId::cpp_header:
            return "cpp_header";
        case StageId::cpp_full:
            return "cpp_full";
        case StageId::logits:
            return "logits";
        case StageId::trace:
            return "trace";
        case StageId::dequant:
            return "dequant";
        case StageId::tokenize:
            return "tokenize";
    }
    return "unknown";
}

std::string_view check_failure_name(CheckFailure failure) {
    switch (failure) {
        case CheckFailure::non_finite_logits:
            return "non_finite_logits";
        case CheckFailure::logits_diverge:
            return "logits_diverge";
        case CheckFailure::against_unavailable:
            return "against_unavailable";
        case CheckFailure::usage_error:
            return "usage_error";
        case CheckFailure::trace_diverge:
            return "trace_diverge";
        case CheckFailure::nothing_compared:
            return "nothing_compared";
        case CheckFailure::dequant_differs:
            return "dequant_differs";
        case CheckFailure::dequant_unsupported:
            return "dequant_unsupported";
        case CheckFailure::tokens_differ:
            return "tokens_differ";
        case CheckFailure::no_token_cases:
            return "no_token_cases";
    }
    return "other";
}

std::string failure_name(const Failure& failure) {
    struct Name {
        std::string operator()(std::monostate) const { return {}; }
        std::string operator()(gguf::Code c) const { return std::string(code_name(c)); }
        std::string operator()(reference::FailureClass c) const {
            return std::string(reference::failure_class_name(c));
        }
        std::string operator()(CheckFailure c) const { return std::string(check_failure_name(c)); }
    };
    return std::visit(Name{}, failure);
}

bool is_disagreement(const Failure& failure) {
    const auto* check = std::get_if<CheckFailure>(&failure);
    return check != nullptr && (*check == CheckFailure::logits_diverge || *check == CheckFailure::trace_diverge ||
                                *check == CheckFailure::dequant_differs || *check == CheckFailure::tokens_differ);
}

bool is_reference_malfunction(const Failure& failure) {
    const auto* c = std::get_if<reference::FailureClass>(&failure);
    if (c == nullptr) return false;
    using F = reference::FailureClass;
    return *c == F::reference_unavailable || *c == F::timeout || *c == F::abort_or_signal || *c == F::other;
}

std::string_view verdict_name(Verdict verdict) {
    switch (verdict) {
        case Verdict::pass:
            return "pass";
        case Verdict::pass_xfail:
            return "pass_xfail";
        case Verdict::reader_rejected:
            return "reader_rejected";
        case Verdict::readers_disagree:
            return "readers_disagree";
        case Verdict::reference_failed:
            return "reference_failed";
        case Verdict::unexpected_pass:
            return "unexpected_pass";
        case Verdict::usage_error:
            return "usage_error";
    }
    return "unknown";
}

namespace {
constexpr std::pair<NoteKind, std::string_view> kNoteKinds[] = {
    {NoteKind::zero_tensor_data_offset, "zero_tensor_data_offset"},
    {NoteKind::trailing_unit_dims, "trailing_unit_dims"},
    {NoteKind::type_id_36, "type_id_36"},
    {NoteKind::predicted_rejection, "predicted_rejection"},
    {NoteKind::both_reject, "both_reject"},
    {NoteKind::test_hook, "test_hook"},
    {NoteKind::fields_not_reported, "fields_not_reported"},
    {NoteKind::usage_error, "usage_error"},
};
}  // namespace

std::string_view note_kind_name(NoteKind kind) {
    for (const auto& [k, name] : kNoteKinds) {
        if (k == kind) return name;
    }
    return "unknown";
}

std::optional<NoteKind> note_kind_from_name(std::string_view name) {
    for (const auto& [k, n] : kNoteKinds) {
        if (n == name) return k;
    }
    return std::nullopt;
}

}  // namespace gguf::crossval
