// The reader-agreement matrix: every file of a corpus through five readers (ours, llama.cpp's gguf
// reader, gguf-py's GGUFReader, @huggingface/gguf, bitnet.cpp's gguf reader), each verdict judged against the manifest
// and each accepted file's values compared with ours.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "compare.hpp"
#include "gguf/error.hpp"
#include "summary.hpp"
#include "util/fd.hpp"
#include "verdict.hpp"

namespace gguf::crossval {

// What one reader made of one file.
enum class ReaderVerdict { accept, reject, crash, timeout, unavailable };
std::string_view reader_verdict_name(ReaderVerdict verdict);  // "accept", ...

// Reader indices in Matrix::readers and MatrixFile::cells.
// kBitnetCpp: bitnet.cpp's gguf reader (its 2024 llama.cpp fork), unavailable when it is not built.
enum ReaderIndex : std::size_t { kOurs = 0, kLlamaCpp = 1, kGgufPy = 2, kHfGguf = 3, kBitnetCpp = 4, kReaderCount = 5 };

struct Difference {
    std::string field;  // the field, rendered (FieldPath::render)
    nlohmann::json ours;
    nlohmann::json theirs;
};

struct Cell {
    ReaderVerdict verdict = ReaderVerdict::unavailable;
    std::string reason;  // why it rejected or failed: ours, the error code; a peer, what it said; a crash, the signal
    // Against the manifest: wrong = accepts a malformed file or rejects a valid one (and, for ours,
    // reports another code than expected). Unset when there is no expectation or no verdict.
    std::optional<bool> wrong;
    bool documented = false;             // llama.cpp: this verdict is the one the manifest's reference_expect gives
    std::vector<Difference> mismatches;  // accepted by this reader and ours: fields that differ
    std::vector<Note> notes;             // documented normalisations applied to this comparison
    std::optional<std::uint64_t> data_offset;  // what the reader reported, when it accepted
    double duration_ms = 0;
};

struct MatrixFile {
    std::size_t index = 0;         // position in the whole corpus's list (what --shard splits on)
    std::string file;              // relative to the corpus directory, as the bytes of its name
    std::optional<bool> valid;     // from the manifest; unset without one
    std::string expected_code;     // malformed files: the code our reader must report
    std::string reference_expect;  // "accept" / "reject" where the corpus documents llama.cpp's verdict
    std::string category;
    std::string description;
    std::vector<Cell> cells;  // one per reader, in ReaderIndex order

    bool all_agree() const;  // no reader wrong, no crash/timeout, one verdict among the available, no mismatch
};

struct ReaderInfo {
    std::string name;  // "ours", "llama.cpp", "gguf-py", "@huggingface/gguf"
    std::string version;
    bool available = false;
    std::string why_unavailable;
    std::vector<Note> normalisations;  // per-reader normalisations, listed in matrix.md
};

struct ReaderTotals {
    std::size_t accepted = 0, rejected = 0, crashes = 0, timeouts = 0, unavailable = 0;
    std::size_t wrongly_accepted = 0;            // malformed files it accepted
    std::size_t wrongly_rejected = 0;            // valid files it rejected
    std::size_t wrong_code = 0;                  // ours only: rejected with another code than the manifest's
    std::size_t value_disagreements = 0;         // files it and ours accepted whose values differ
    double duration_ms = 0;                      // its time over all files (a batch's time shared among its files)
    std::map<NoteKind, std::size_t> normalised;  // files on which a normalisation of each kind was applied
};

class MatrixSpool;

struct Matrix {
    std::string corpus_dir;
    bool has_manifest = false;
    std::string timestamp;  // UTC, ISO 8601
    double duration_s = 0;
    std::vector<ReaderInfo> readers;
    std::vector<MatrixFile> files;
    std::vector<ReaderTotals> totals;  // one per reader
    std::optional<Shard> shard;        // set when this run took one shard of the corpus
    // Set by a spooled run (MatrixOptions::spool): every file's matrix.json entry is there, and the
    // files on which all readers agree kept their manifest fields but not their cells.
    std::shared_ptr<const MatrixSpool> spool;

    bool ours_right() const;  // our reader right on every file (the command's exit code)
};

struct MatrixOptions {
    std::filesystem::path dir;
    std::optional<std::filesystem::path> cpp_dir;  // the reference: --cpp-dir, else the environment, else the pin
    std::optional<std::filesystem::path>
        bitnet_dir;  // bitnet.cpp: --bitnet-dir, else BITNET_CPP_DIR, else fetch-bitnet's cache
    std::chrono::milliseconds timeout{20000};  // per child process
    unsigned jobs = 2;                         // files in flight (each runs its readers one after another)
    std::optional<Shard> shard;                // run only the files whose index this shard takes
    // Called as each file finishes (from a worker thread, serialised): index (1-based), count, file.
    std::function<void(std::size_t, std::size_t, const std::string&)> progress;
    // When set, each file's matrix.json entry goes there as the file is finished (in the corpus's
    // order), and a file on which every reader agrees then drops its cells: memory is the manifest's
    // fields and the files matrix.md lists, not five cells per file.
    std::shared_ptr<MatrixSpool> spool;
};

// matrix.json's file entries, written as a run finishes each file, in an unlinked temporary file: it
// has no name, so nothing is left behind however the process ends.
class MatrixSpool {
public:
    // In `dir` (created if missing), so that the entries take room where matrix.json will, not in a
    // tmpfs. Error (io_error): no temporary file could be made there.
    static gguf::Result<std::shared_ptr<MatrixSpool>> create(const std::filesystem::path& dir);

    // The file's entry, as write_matrix_json prints it. A failed write is kept: see error().
    void append(const Matrix& matrix, const MatrixFile& file);
    // Writes out what append buffered; false (and error() set) when a write failed.
    bool flush();
    // The entries, comma-separated as in the "files" array, given to sink piece by piece.
    bool copy_to(const std::function<bool(std::string_view)>& sink) const;
    std::size_t entries() const { return entries_; }
    const std::string& error() const { return error_; }  // empty while every write succeeded

private:
    explicit MatrixSpool(util::UniqueFd fd, std::string where) : fd_(std::move(fd)), where_(std::move(where)) {}
    util::UniqueFd fd_;
    std::string where_;  // the directory, for messages
    std::string buffer_;
    std::uint64_t written_ = 0;
    std::size_t entries_ = 0;
    std::string error_;
};

// The entries of a corpus manifest (gen-corpus's manifest.json), `name` naming it in messages. Errors
// (io_error): not JSON, nested too deep, no "files" array, an entry without a "file" name or with one
// outside the corpus directory, a field of the wrong type. The files are not looked at.
gguf::Result<std::vector<MatrixFile>> parse_manifest(std::string_view text, const std::string& name);

// Run the matrix. Errors: the directory is missing, the manifest is unreadable or lists no files.
// A shard may take no file of a small corpus: its matrix then has no files.
gguf::Result<Matrix> run_matrix(const MatrixOptions& options);

// The totals, counted again from the files' cells (after a merge).
void count_totals(Matrix& matrix);

// matrix.json: {"schema": "gguf-crossval-matrix", "version": 1, "corpus", "timestamp", "duration_s",
// "shard"?: {index, count}, "readers": [{name, version, available, why_unavailable?, normalisations,
// normalisation_kinds}], "totals": {reader: {wrongly_accepted, wrongly_rejected, crashes, timeouts,
// value_disagreements, ...}}, "files": [{index, name, valid, expected_code, category, description,
// readers: {reader: {verdict, code_or_message, wrong, mismatches: [fields], details: [{field, ours,
// theirs}], notes, note_kinds, data_offset}}}]}. Names are describe::render_string'd (lossless).
// As a tree, for a matrix not spooled (a spooled one's files that dropped their cells have none here;
// write_matrix_json takes them from the spool).
nlohmann::json to_json(const Matrix& matrix);

// matrix.json's text, the bytes of to_json(matrix).dump(2) and a newline, given to `sink` piece by
// piece (one file entry's tree at a time, never the whole; a spooled matrix's entries from its spool).
// False when sink is (or errno is set), or when the spool could not be read.
bool write_matrix_json(const Matrix& matrix, const std::function<bool(std::string_view)>& sink);

// A matrix back from its matrix.json (what merge reads). Errors name the field.
gguf::Result<Matrix, SummaryError> matrix_from_json(const nlohmann::json& json);

// Shards' matrices into the one an unsharded run writes (but for times): files ordered by index, the
// totals counted again. Errors: no shard, shards of different corpora or readers, a file in two shards.
gguf::Result<Matrix, SummaryError> merge_matrices(std::vector<Matrix> shards);

// matrix.md: the summary table, then the files where a reader is wrong or disagrees.
std::string to_markdown(const Matrix& matrix);

// Write matrix.json and matrix.md into dir (created if missing), each through a temporary file.
gguf::Status write_matrix(const Matrix& matrix, const std::filesystem::path& dir);

}  // namespace gguf::crossval
