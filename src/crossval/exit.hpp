// The process exit codes of every gguf-crossval command, in one place (the README lists them).
// Commands with fewer outcomes use a subset; two names share a value where two commands say the same
// thing in their own words (validate's "invalid" is crossval's "our reader rejected it").
#pragma once

namespace gguf::crossval {

enum Exit : int {
    kPass = 0,             // crossval: every stage passed, or failed as an allowed XFAIL
    kOk = 0,               // other commands: done
    kReaderRejected = 1,   // crossval: our reader rejected the file
    kInvalid = 1,          // validate, inspect: the file is not valid GGUF
    kUsage = 2,            // bad flags, a missing file, an output path that names a directory
    kDisagree = 3,         // the readers disagree: a field mismatch, or one accepts what the other rejects
    kReferenceFailed = 4,  // a reference stage failed unexpectedly (no expectation or policy allows it), or
                           // passed where an expectation declared a failure and --strict is given
    kWriteFailed = 5,      // an output file (report, fixture, summary) could not be written; the old one is intact
};

}  // namespace gguf::crossval
