// The reader-agreement matrix: running the readers over a corpus and judging each verdict.
#include "matrix.hpp"

#include <fmt/format.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <algorithm>
#include <array>
#include <atomic>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include "compare.hpp"
#include "describe/description.hpp"
#include "gguf/value.hpp"
#include "reference/peers.hpp"
#include "reference/reference.hpp"
#include "report.hpp"
#include "util/cleanup.hpp"
#include "util/json_depth.hpp"

namespace gguf::crossval {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

// Files per peer process: a Python or Node start costs about 0.2 s of CPU, reading a small file a
// few milliseconds (the corpus: 286 files in 3.3 s with 64 per batch, 6.5 s with 16). A batch that
// times out loses no file: the lines already printed stand and the rest run again (run_peer_batch).
constexpr std::size_t kPeerBatch = 64;
constexpr std::uintmax_t kPeerBatchBytes = 4u << 20;

// What @huggingface/gguf does not return (tools/peers/hf_gguf_describe.mjs): general.alignment is
// used inside the parser, and GGUFTensorInfo has no byte size. Such fields are not compared.
constexpr const char* kHfNotReported =
    "alignment and tensor sizes are not compared: @huggingface/gguf does not return them (it uses "
    "general.alignment internally; GGUFTensorInfo is {name, n_dims, shape, dtype, offset})";

// Type id 36: our reader reads it as bitnet.cpp's I2_S and names it so; a reader that returns only
// the id (or ggml's table) gets ggml's name, IQ4_NL_4_4. Same id: one type, two names.
bool same_type_id_36(const Mismatch& m) {
    return m.path.field == Field::tensor_type && m.ours == "I2_S" && m.reference == "IQ4_NL_4_4";
}

bool hf_unreported(const FieldPath& path) {
    return path.field == Field::alignment || path.field == Field::tensor_size;
}

}  // namespace

namespace {

// One manifest entry, checked, as a MatrixFile; nullopt with `error` set when it is not one.
std::optional<MatrixFile> manifest_entry(const nlohmann::json& f, const std::string& name, Error& error) {
    if (!f.is_object() || !f.contains("file") || !f["file"].is_string()) {
        error = Error{Code::io_error, 0, fmt::format("'{}': an entry without a \"file\" name", name)};
        return std::nullopt;
    }
    MatrixFile mf;
    mf.file = f["file"].get<std::string>();
    // Confined to the corpus: a relative path that stays inside DIR once normalised.
    const auto rel = fs::path(mf.file).lexically_normal();
    if (mf.file.empty() || rel.is_absolute() || rel.empty() || *rel.begin() == "..") {
        error = Error{Code::io_error, 0,
                      fmt::format("'{}': entry '{}' is not a path inside the corpus directory", name,
                                  describe::render_string(mf.file))};
        return std::nullopt;
    }
    const auto text_field = [&](const char* key, std::string& out) {
        const auto it = f.find(key);
        if (it == f.end() || it->is_null()) return true;
        if (!it->is_string()) return false;
        out = it->get<std::string>();
        return true;
    };
    const auto valid = f.find("valid");
    if (valid != f.end() && !valid->is_boolean()) {
        error = Error{Code::io_error, 0,
                      fmt::format("'{}': entry '{}' has a \"valid\" that is not a boolean", name,
                                  describe::render_string(mf.file))};
        return std::nullopt;
    }
    if (valid != f.end()) mf.valid = valid->get<bool>();
    for (auto [key, out] :
         {std::pair{"expected_code", &mf.expected_code}, std::pair{"reference_expect", &mf.reference_expect},
          std::pair{"category", &mf.category}, std::pair{"description", &mf.description}}) {
        if (!text_field(key, *out)) {
            error = Error{Code::io_error, 0,
                          fmt::format("'{}': entry '{}' has a \"{}\" that is not a string", name,
                                      describe::render_string(mf.file), key)};
            return std::nullopt;
        }
    }
    return mf;
}

}  // namespace

gguf::Result<std::vector<MatrixFile>> parse_manifest(std::string_view text, const std::string& name) {
    if (!util::json_depth_within(text)) {
        return Error{Code::io_error, 0,
                     fmt::format("'{}' nests arrays or objects deeper than {} levels: not a corpus manifest", name,
                                 util::kMaxJsonDepth)};
    }
    // Parsed with a callback that turns each entry of the top-level "files" array into a MatrixFile
    // as soon as it is complete and drops its DOM: the manifest never exists as one tree, so memory
    // is the text plus the compact entries (a DOM of 10^6 entries is 25 times the text).
    std::vector<MatrixFile> files;
    std::optional<Error> entry_error;
    bool in_files = false;  // the current top-level key is "files"
    const nlohmann::json::parser_callback_t keep = [&](int depth, nlohmann::json::parse_event_t event,
                                                       nlohmann::json& parsed) {
        using E = nlohmann::json::parse_event_t;
        if (depth == 1 && event == E::key) {
            in_files = parsed == "files";
            if (in_files) files.clear();  // a repeated key: the last one counts, as in the DOM
            return true;
        }
        if (depth != 2 || !in_files || (event != E::object_end && event != E::array_end && event != E::value))
            return true;
        if (entry_error) return false;
        Error error{Code::io_error, 0, ""};
        if (auto mf = manifest_entry(parsed, name, error)) {
            files.push_back(std::move(*mf));
        } else {
            entry_error = std::move(error);
        }
        return false;
    };
    const auto m = nlohmann::json::parse(text, keep, false);
    if (m.is_discarded() || !m.is_object() || !m.contains("files") || !m["files"].is_array()) {
        return Error{Code::io_error, 0, fmt::format("'{}' is not a corpus manifest (no \"files\" array)", name)};
    }
    if (entry_error) return *entry_error;
    return files;
}

namespace {

// The corpus: manifest.json's files, or every *.gguf under dir (no expectation).
gguf::Result<std::vector<MatrixFile>> list_files(const fs::path& dir, bool& has_manifest) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        return Error{Code::io_error, 0, fmt::format("'{}' is not a directory", dir.string())};
    }
    std::vector<MatrixFile> files;
    const auto manifest_path = dir / "manifest.json";
    has_manifest = fs::exists(manifest_path, ec);
    if (has_manifest) {
        if (!fs::is_regular_file(manifest_path, ec)) {  // a FIFO would block the open
            return Error{Code::io_error, 0, fmt::format("'{}' is not a regular file", manifest_path.string())};
        }
        // Read in one piece of the file's size: growing a string by doubling would peak at twice it.
        std::ifstream in(manifest_path, std::ios::binary);
        const auto bytes = fs::file_size(manifest_path, ec);
        if (ec) return Error{Code::io_error, 0, fmt::format("'{}': {}", manifest_path.string(), ec.message())};
        std::string text(static_cast<std::size_t>(bytes), '\0');
        in.read(text.data(), static_cast<std::streamsize>(text.size()));
        text.resize(static_cast<std::size_t>(std::max<std::streamsize>(in.gcount(), 0)));
        auto listed = parse_manifest(text, manifest_path.string());
        if (!listed) return listed.error();
        files = std::move(*listed);
    } else {
        for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
             it.increment(ec)) {
            if (it->is_regular_file(ec) && it->path().extension() == ".gguf") {
                MatrixFile mf;
                mf.file = fs::relative(it->path(), dir, ec).generic_string();
                files.push_back(std::move(mf));
            }
        }
        std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.file < b.file; });
    }
    for (std::size_t i = 0; i < files.size(); ++i) files[i].index = i;
    if (files.empty()) {
        return Error{Code::io_error, 0,
                     fmt::format("no files to run in '{}' ({})", dir.string(),
                                 has_manifest ? "the manifest lists none" : "no manifest.json and no *.gguf")};
    }
    return files;
}

// Right or wrong against the manifest. Only accept and reject are verdicts on the file.
void judge(Cell& cell, const MatrixFile& f, bool ours) {
    if (!f.valid || (cell.verdict != ReaderVerdict::accept && cell.verdict != ReaderVerdict::reject)) return;
    const bool accepted = cell.verdict == ReaderVerdict::accept;
    cell.wrong = accepted != *f.valid;
    if (ours && !accepted && !*f.valid && !f.expected_code.empty() && cell.reason != f.expected_code) {
        cell.wrong = true;
    }
}

// Our reader, in process: the production parser.
Cell run_ours(const fs::path& path, std::optional<describe::Description>& description) {
    Cell c;
    const auto start = Clock::now();
    auto file = gguf::open(path);
    c.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (file) {
        c.verdict = ReaderVerdict::accept;
        description = describe::describe(*file);
        c.data_offset = description->data_offset;
    } else if (file.error().code == Code::io_error) {
        // Missing, deleted during the run, unreadable, not a regular file: no verdict on its bytes.
        c.verdict = ReaderVerdict::unavailable;
        c.reason = file.error().message;
    } else {
        c.verdict = ReaderVerdict::reject;
        c.reason = std::string(code_name(file.error().code));
    }
    return c;
}

// What a child-process reader is known to do differently, so that its cell is judged fairly.
enum class ReaderProfile {
    ggml,     // llama.cpp and bitnet.cpp: compare() normalises their documented differences of definition
              // (0-tensor data offset, dropped trailing unit dims)
    hf_gguf,  // @huggingface/gguf: a documented variant of the neutral form (fields it does not return)
    plain,    // gguf-py: no known difference; anything normalised for ggml is a difference here
};

ReaderProfile profile_of(std::size_t reader) {
    if (reader == kLlamaCpp || reader == kBitnetCpp) return ReaderProfile::ggml;
    return reader == kHfGguf ? ReaderProfile::hf_gguf : ReaderProfile::plain;
}

// A child-process reader's outcome as a cell; on acceptance, its description compared with ours. The
// outcome's payload is consumed (it is up to a few times the file's size).
Cell cell_from(reference::StageOutcome&& o, const describe::Description* ours, ReaderProfile profile) {
    const bool ggml_quirks = profile == ReaderProfile::ggml;
    const bool hf = profile == ReaderProfile::hf_gguf;
    Cell c;
    c.duration_ms = o.duration_ms;
    if (!o.ok) {
        switch (o.failure) {
            case reference::FailureClass::timeout:
                c.verdict = ReaderVerdict::timeout;
                break;
            case reference::FailureClass::reference_unavailable:
            case reference::FailureClass::file_unreadable:  // deleted or made unreadable during the run:
                c.verdict = ReaderVerdict::unavailable;     // no verdict on the file's bytes
                break;
            case reference::FailureClass::abort_or_signal:
            case reference::FailureClass::other:
                c.verdict = ReaderVerdict::crash;
                break;
            default:
                c.verdict = ReaderVerdict::reject;
                break;
        }
        c.reason = o.message;
        return c;
    }
    c.verdict = ReaderVerdict::accept;
    auto payload = std::move(o.payload);
    if (hf) {  // the documented variant of the probe's form: fields the library does not return
        if (!payload.contains("alignment")) payload["alignment"] = 0;
        for (auto& t : payload["tensors"]) {
            if (t.is_object() && !t.contains("size")) t["size"] = 0;
        }
    }
    if (payload.contains("data_offset") && payload["data_offset"].is_number_unsigned()) {
        c.data_offset = payload["data_offset"].get<std::uint64_t>();
    }
    auto theirs = reference::description_from_header(std::move(payload));
    if (!theirs) {
        // The reader accepted, but what it returned does not fit the neutral form (an array of arrays
        // whose inner element type @huggingface/gguf does not return): a disagreement, shown as is.
        auto why = theirs.error().message;
        if (why.rfind("reference payload: ", 0) == 0) why.erase(0, 19);
        c.mismatches.push_back({FieldPath{Field::payload, 0, {}}.render(), nullptr,
                                "not representable in the neutral description: " + why});
        return c;
    }
    if (!ours) return c;  // we rejected the file: nothing to compare values with
    auto cmp = compare_descriptions(*ours, *theirs);
    for (auto& m : cmp.mismatches) {
        if (hf && hf_unreported(m.path)) continue;
        if (same_type_id_36(m)) {
            c.notes.push_back({NoteKind::type_id_36,
                               fmt::format("{}: type id 36, which our reader names I2_S (bitnet.cpp) and ggml's "
                                           "table IQ4_NL_4_4: the same id, not a mismatch",
                                           m.path.render())});
            continue;
        }
        c.mismatches.push_back({m.path.render(), std::move(m.ours), std::move(m.reference)});
    }
    if (!ggml_quirks && !cmp.notes.empty()) {
        // compare() normalised a ggml quirk that this reader is not documented to have: report it.
        if (ours->data_offset != theirs->data_offset) {
            c.mismatches.push_back(
                {FieldPath{Field::data_offset, 0, {}}.render(), ours->data_offset, theirs->data_offset});
        }
        for (std::size_t i = 0; i < std::min(ours->tensors.size(), theirs->tensors.size()); ++i) {
            const auto& a = ours->tensors[i];
            const auto& b = theirs->tensors[i];
            if (a.dims != b.dims) {
                c.mismatches.push_back({FieldPath{Field::tensor_dims, i, a.name}.render(), a.dims, b.dims});
            }
        }
    } else {
        c.notes.insert(c.notes.end(), cmp.notes.begin(), cmp.notes.end());
    }
    return c;
}

// The path a peer is given for a file. Node decodes its arguments as UTF-8, so a path that is not
// UTF-8 reached @huggingface/gguf changed (ENOENT, counted as a reject); such a file is given to the
// peers through a symlink with an ASCII name in the temporary directory, removed afterwards (and on a
// signal). If the symlink cannot be made, the path as it is.
class PeerAlias {
public:
    // index and reader make the name unique within the run (two peers read one file at once).
    PeerAlias(const fs::path& file, std::size_t index, std::size_t reader) : path_(file) {
        if (is_valid_utf8(file.native())) return;
        std::error_code ec;
        const auto target = fs::absolute(file, ec);
        if (ec) return;
        auto alias = fs::temp_directory_path(ec) /
                     fmt::format("gguf-crossval-matrix-{}-{}-{}.gguf", static_cast<long>(::getpid()), reader, index);
        guard_ = std::make_unique<util::TempFileGuard>(alias);
        fs::create_symlink(target, alias, ec);
        if (ec) {
            guard_->release();
            return;
        }
        guard_->created();
        path_ = alias;
    }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
    std::unique_ptr<util::TempFileGuard> guard_;
};

// After a large answer is converted: glibc keeps what a thread freed in that thread's arena, so with two
// workers the freed trees of two large answers stayed resident (the 19 vocabulary files of the bundle:
// 188 MB without, 119 MB with one arena). Returning it costs a walk of the free lists, so only after
// a file of 1 MiB or more.
void release_freed_memory(std::uintmax_t file_size) {
#if defined(__GLIBC__)
    if (file_size >= (1u << 20)) malloc_trim(0);
#else
    (void)file_size;
#endif
}

void add_totals(ReaderTotals& t, const MatrixFile& f, const Cell& c) {
    switch (c.verdict) {
        case ReaderVerdict::accept:
            ++t.accepted;
            break;
        case ReaderVerdict::reject:
            ++t.rejected;
            break;
        case ReaderVerdict::crash:
            ++t.crashes;
            break;
        case ReaderVerdict::timeout:
            ++t.timeouts;
            break;
        case ReaderVerdict::unavailable:
            ++t.unavailable;
            break;
    }
    if (c.wrong.value_or(false) && f.valid) {
        if (c.verdict == ReaderVerdict::accept && !*f.valid) ++t.wrongly_accepted;
        if (c.verdict == ReaderVerdict::reject && *f.valid) ++t.wrongly_rejected;
        if (c.verdict == ReaderVerdict::reject && !*f.valid) ++t.wrong_code;
    }
    if (!c.mismatches.empty()) ++t.value_disagreements;
    t.duration_ms += c.duration_ms;
    std::vector<NoteKind> kinds;  // each kind once per file
    for (const auto& n : c.notes) {
        if (std::find(kinds.begin(), kinds.end(), n.kind) == kinds.end()) kinds.push_back(n.kind);
    }
    for (const auto k : kinds) ++t.normalised[k];
}

}  // namespace

std::string_view reader_verdict_name(ReaderVerdict verdict) {
    switch (verdict) {
        case ReaderVerdict::accept:
            return "accept";
        case ReaderVerdict::reject:
            return "reject";
        case ReaderVerdict::crash:
            return "crash";
        case ReaderVerdict::timeout:
            return "timeout";
        case ReaderVerdict::unavailable:
            return "unavailable";
    }
    return "?";
}

bool MatrixFile::all_agree() const {
    std::optional<ReaderVerdict> seen;
    for (const auto& c : cells) {
        if (c.verdict == ReaderVerdict::unavailable) continue;
        if (c.wrong.value_or(false) || !c.mismatches.empty()) return false;
        if (c.verdict == ReaderVerdict::crash || c.verdict == ReaderVerdict::timeout) return false;
        if (seen && *seen != c.verdict) return false;
        seen = c.verdict;
    }
    return true;
}

bool Matrix::ours_right() const {
    return std::none_of(files.begin(), files.end(),
                        [](const MatrixFile& f) { return !f.cells.empty() && f.cells[kOurs].wrong.value_or(false); });
}

void count_totals(Matrix& m) {
    m.totals.assign(m.readers.size(), {});
    for (const auto& f : m.files) {
        for (std::size_t r = 0; r < m.readers.size() && r < f.cells.size(); ++r) add_totals(m.totals[r], f, f.cells[r]);
    }
}

namespace {

// The four child-process readers, located once per run.
struct Readers {
    reference::Located llama_cpp, bitnet_cpp;
    reference::Peer gguf_py, hf_gguf;
};

// Finds the readers and fills the matrix's reader table: name, version, availability, normalisations.
Readers locate_readers(const MatrixOptions& options, Matrix& m) {
    m.readers.resize(kReaderCount);
    m.readers[kOurs] = {"ours", "gguf-crossval (gguf::open)", true, "", {}};
    Readers readers{reference::locate(options.cpp_dir), reference::locate_bitnet(options.bitnet_dir),
                    reference::locate_gguf_py(), reference::locate_hf_gguf()};
    const auto& located = readers.llama_cpp;
    if (located.ref) {
        m.readers[kLlamaCpp] = {located.ref->name, located.ref->version, true, "", {}};
    } else {
        m.readers[kLlamaCpp] = {"llama.cpp", "", false, located.error + " (run scripts/fetch-reference)", {}};
    }
    m.readers[kLlamaCpp].normalisations = {
        {NoteKind::zero_tensor_data_offset,
         "data_offset of a 0-tensor file: ggml reports the unpadded end of the metadata, we the padded one "
         "(docs/gguf-notes.md); compared after padding ggml's to the alignment"},
        {NoteKind::trailing_unit_dims,
         "dims: ggml keeps no dimension count and drops trailing dimensions of size 1; compared in that form"}};
    const auto& bitnet = readers.bitnet_cpp;
    if (bitnet.ref) {
        m.readers[kBitnetCpp] = {bitnet.ref->name, bitnet.ref->version, true, "", {}};
    } else {
        m.readers[kBitnetCpp] = {"bitnet.cpp", "", false, bitnet.error, {}};
    }
    m.readers[kBitnetCpp].normalisations = m.readers[kLlamaCpp].normalisations;
    const auto& gguf_py = readers.gguf_py;
    const auto& hf = readers.hf_gguf;
    m.readers[kGgufPy] = {gguf_py.name, gguf_py.version, gguf_py.available, gguf_py.why_unavailable, {}};
    m.readers[kHfGguf] = {
        hf.name, hf.version, hf.available, hf.why_unavailable, {{NoteKind::fields_not_reported, kHfNotReported}}};
    return readers;
}

// A unit of work for one child-process reader: files [begin, end) of the run (one file for the
// reference probes, a batch for a peer).
struct Task {
    std::size_t reader, begin, end;
};

// Files [begin, end): one process of each peer, and one of each reference probe per file.
struct Batch {
    std::size_t begin, end;
};

// What stat() says of each file before any reader opens it.
struct FileFacts {
    std::vector<char> regular;  // only regular files go to the child readers: a FIFO would block each
                                // of them until the timeout, twice for a batched peer
    std::vector<std::uintmax_t> size;
};

FileFacts stat_files(const fs::path& dir, const std::vector<MatrixFile>& files) {
    FileFacts facts{std::vector<char>(files.size()), std::vector<std::uintmax_t>(files.size(), 0)};
    for (std::size_t i = 0; i < files.size(); ++i) {
        std::error_code ec;
        const auto path = dir / files[i].file;
        facts.regular[i] = fs::is_regular_file(path, ec);  // stat() does not open; our reader then says why
        if (facts.regular[i]) facts.size[i] = fs::file_size(path, ec);
    }
    return facts;
}

// The work, in file order: the reference probes run one file per process (a probe may abort on a
// file); each peer runs a batch per process (starting an interpreter costs more than reading a
// file): up to kPeerBatch files and kPeerBatchBytes, a larger file alone, since a peer's answer for
// a batch is held whole (a vocabulary file's is larger than the file). A batch's tasks are made as
// the workers take them: a corpus of 10^6 files is not 4 * 10^6 tasks held at once.
std::vector<Batch> plan_batches(const FileFacts& facts) {
    std::vector<Batch> batches;
    const std::size_t n = facts.size.size();
    for (std::size_t b = 0, e = 0; b < n; b = e) {
        std::uintmax_t bytes = 0;
        for (e = b; e < n && e - b < kPeerBatch && (e == b || bytes + facts.size[e] <= kPeerBatchBytes); ++e) {
            bytes += facts.size[e];
        }
        batches.push_back({b, e});
    }
    return batches;
}

// Task k of a batch: the two peers' batch processes first, then each file's two probes.
Task batch_task(const Batch& b, std::size_t k) {
    if (k < 2) return {k == 0 ? kGgufPy : kHfGguf, b.begin, b.end};
    const auto i = b.begin + (k - 2) / 2;
    return {k % 2 == 0 ? kLlamaCpp : kBitnetCpp, i, i + 1};
}

std::size_t batch_tasks(const Batch& b) {
    return 2 + 2 * (b.end - b.begin);
}

reference::StageOutcome not_run(std::string why) {
    reference::StageOutcome o;
    o.failure = reference::FailureClass::reference_unavailable;
    o.message = std::move(why);
    return o;
}

// The files in flight: `jobs` workers take the tasks in order, so at most `jobs` child processes run
// at once. Each child's outcome becomes its cell as soon as it arrives (its payload, up to a few times
// the file's size, is then freed); a file is finished, judged and reported when its child-process
// readers are all done.
class MatrixRun {
public:
    MatrixRun(const MatrixOptions& options, Matrix& m, const Readers& readers)
        : options_(options),
          m_(m),
          readers_(readers),
          facts_(stat_files(options.dir, m.files)),
          batches_(plan_batches(facts_)),
          pending_(m.files.size()),
          finished_(m.files.size(), 0) {
        m_.totals.assign(kReaderCount, {});
    }

    void run() {
        const std::size_t tasks = 2 * batches_.size() + 2 * m_.files.size();  // the sum of batch_tasks()
        const auto jobs =
            static_cast<unsigned>(std::clamp<std::size_t>(options_.jobs, 1, std::max<std::size_t>(tasks, 1)));
        std::vector<std::thread> threads;
        for (unsigned j = 1; j < jobs; ++j) threads.emplace_back([this] { work(); });
        work();
        for (auto& t : threads) t.join();
    }

    // Per file while it is in flight: our reader's description, made once by whichever reader
    // finishes first, and how many child readers are still to report.
    struct Pending {
        std::once_flag ours_once;
        std::unique_ptr<describe::Description> ours;
        std::atomic<int> left{kReaderCount - 1};
    };

    // A reader found unusable on the way (an adapter that could not load its library) is
    // unavailable: one that ran on none of the files our reader could read. Missing files say
    // nothing of the readers.
    void mark_unusable_readers() {
        if (readable_ == 0) return;
        for (std::size_t r = 1; r < kReaderCount; ++r) {
            if (ran_[r] == 0 && m_.readers[r].available) {
                m_.readers[r].available = false;
                m_.readers[r].why_unavailable = first_reason_[r];
            }
        }
    }

private:
    // The next task in file order, nullopt when all are taken.
    std::optional<Task> next_task() {
        std::lock_guard<std::mutex> lock(next_mutex_);
        while (batch_ < batches_.size() && in_batch_ == batch_tasks(batches_[batch_])) {
            ++batch_;
            in_batch_ = 0;
        }
        if (batch_ == batches_.size()) return std::nullopt;
        return batch_task(batches_[batch_], in_batch_++);
    }

    void work() {
        while (const auto next = next_task()) {
            const auto& task = *next;
            auto results = run_task(task);
            for (auto i = task.begin; i < task.end; ++i) settle(i, task.reader, std::move(results[i - task.begin]));
        }
    }

    // The task's outcomes, one per file of [begin, end).
    std::vector<reference::StageOutcome> run_task(const Task& task) const {
        std::vector<reference::StageOutcome> results;
        const reference::RunOptions run_options{options_.timeout};
        if (task.reader == kLlamaCpp || task.reader == kBitnetCpp) {
            const auto& ref = task.reader == kLlamaCpp ? readers_.llama_cpp.ref : readers_.bitnet_cpp.ref;
            if (!facts_.regular[task.begin]) {
                results.push_back(not_run("not a regular file"));
            } else if (ref) {
                results.push_back(reference::run_header(*ref, options_.dir / m_.files[task.begin].file, run_options));
            } else {
                results.push_back(not_run(m_.readers[task.reader].why_unavailable));
            }
            return results;
        }
        std::vector<fs::path> paths;
        std::vector<std::unique_ptr<PeerAlias>> aliases;
        std::vector<std::size_t> runs;  // the files of the batch that go to the peer
        for (auto i = task.begin; i < task.end; ++i) {
            if (!facts_.regular[i]) continue;
            aliases.push_back(
                std::make_unique<PeerAlias>(options_.dir / m_.files[i].file, m_.files[i].index, task.reader));
            paths.push_back(aliases.back()->path());
            runs.push_back(i);
        }
        auto ran =
            reference::run_peer_batch(task.reader == kGgufPy ? readers_.gguf_py : readers_.hf_gguf, paths, run_options);
        results.resize(task.end - task.begin, not_run("not a regular file"));
        for (std::size_t k = 0; k < runs.size(); ++k) results[runs[k] - task.begin] = std::move(ran[k]);
        return results;
    }

    // Our reader on file i, once; the cells of the child readers are theirs to write (one each).
    const describe::Description* ours_of(std::size_t i) {
        auto& p = pending_[i];
        std::call_once(p.ours_once, [&] {
            m_.files[i].cells.resize(kReaderCount);  // here, not up front: only the files in flight have cells
            std::optional<describe::Description> d;
            m_.files[i].cells[kOurs] = run_ours(options_.dir / m_.files[i].file, d);
            if (d) p.ours = std::make_unique<describe::Description>(std::move(*d));
        });
        return p.ours.get();
    }

    // One child reader's outcome on file i as its cell; the file is finished with its last reader.
    void settle(std::size_t i, std::size_t reader, reference::StageOutcome outcome) {
        const auto* ours = ours_of(i);
        {
            // One conversion at a time: it costs several times the payload, which is itself larger
            // than the file (a vocabulary's answer from the probe is 1.3 times the file).
            std::lock_guard<std::mutex> one_at_a_time(convert_mutex_);
            m_.files[i].cells[reader] = cell_from(std::move(outcome), ours, profile_of(reader));
            release_freed_memory(facts_.size[i]);
        }
        if (pending_[i].left.fetch_sub(1) == 1) finish(i);
    }

    void finish(std::size_t i) {
        auto& f = m_.files[i];
        if (f.cells[kOurs].verdict == ReaderVerdict::unavailable) {
            // The file itself could not be read: what the others said is about its absence, not its bytes.
            for (std::size_t r = 1; r < kReaderCount; ++r) f.cells[r] = f.cells[kOurs];
        }
        for (std::size_t r = 0; r < kReaderCount; ++r) judge(f.cells[r], f, r == kOurs);
        auto& ref = f.cells[kLlamaCpp];
        if (ref.verdict == ReaderVerdict::accept || ref.verdict == ReaderVerdict::reject) {
            ref.documented = !f.reference_expect.empty() && f.reference_expect == reader_verdict_name(ref.verdict);
        }
        pending_[i].ours.reset();
        std::lock_guard<std::mutex> lock(progress_mutex_);
        ++done_;
        if (options_.progress) options_.progress(done_, m_.files.size(), f.file);
        finished_[i] = 1;
        while (emitted_ < finished_.size() && finished_[emitted_]) emit(emitted_++);
    }

    // A finished file, in the corpus's order: counted in the totals and, in a spooled run, written
    // to the spool (and its cells dropped when every reader agrees).
    void emit(std::size_t i) {
        auto& f = m_.files[i];
        for (std::size_t r = 0; r < kReaderCount; ++r) add_totals(m_.totals[r], f, f.cells[r]);
        if (f.cells[kOurs].verdict != ReaderVerdict::unavailable) {
            ++readable_;
            for (std::size_t r = 1; r < kReaderCount; ++r) {
                if (f.cells[r].verdict != ReaderVerdict::unavailable) {
                    ++ran_[r];
                } else if (first_reason_[r].empty()) {
                    first_reason_[r] = f.cells[r].reason;
                }
            }
        }
        if (!options_.spool) return;
        options_.spool->append(m_, f);
        if (f.all_agree()) std::vector<Cell>{}.swap(f.cells);
    }

    const MatrixOptions& options_;
    Matrix& m_;
    const Readers& readers_;
    const FileFacts facts_;
    const std::vector<Batch> batches_;
    std::vector<Pending> pending_;
    std::mutex next_mutex_;  // guards batch_, in_batch_
    std::size_t batch_ = 0, in_batch_ = 0;
    std::mutex convert_mutex_;
    std::mutex progress_mutex_;  // guards what follows
    std::size_t done_ = 0;
    std::vector<char> finished_;
    std::size_t emitted_ = 0;                             // files [0, emitted_) are counted (and spooled)
    std::size_t readable_ = 0;                            // emitted files our reader could open
    std::array<std::size_t, kReaderCount> ran_{};         // per reader: readable files it gave a verdict on
    std::array<std::string, kReaderCount> first_reason_;  // per reader: why it first did not
};

}  // namespace

gguf::Result<Matrix> run_matrix(const MatrixOptions& options) {
    const auto start = Clock::now();
    Matrix m;
    m.corpus_dir = options.dir.string();
    m.timestamp = utc_timestamp();
    auto listed = list_files(options.dir, m.has_manifest);
    if (!listed) return listed.error();
    m.files = std::move(listed).value();
    if (options.shard) {
        m.shard = options.shard;
        std::erase_if(m.files, [&](const MatrixFile& f) { return !options.shard->takes(f.index); });
    }
    const auto readers = locate_readers(options, m);
    {
        MatrixRun run(options, m, readers);
        run.run();
        run.mark_unusable_readers();
    }
    if (options.spool) {
        if (!options.spool->flush()) return Error{Code::io_error, 0, options.spool->error()};
        m.spool = options.spool;
    }
    m.duration_s = std::chrono::duration<double>(Clock::now() - start).count();
    return m;
}

}  // namespace gguf::crossval
