// NumPy .npy files (format versions 1.0, 2.0 and 3.0, as numpy.lib.format
// defines them): read float32/float64 arrays, write uint8/uint16/float32
// arrays. Every problem with a file is one NpyError whose message names the
// file and says what is wrong, in one line.
//
// Layout of a .npy file:
//   "\x93NUMPY" major minor  HEADER_LEN  HEADER  DATA
// HEADER_LEN is 2 bytes (v1.0) or 4 bytes (v2.0, v3.0), little-endian; the
// header is a Python dict literal {'descr': '<f4', 'fortran_order': False,
// 'shape': (3, 4), } (latin-1 in v1/v2, UTF-8 in v3) padded with spaces and
// ended by '\n'; DATA is the elements in C (row-major) order.
//
// Reading accepts little-endian float32 ('<f4') and float64 ('<f8') in C
// order. Fortran-order arrays are rejected (save them with
// numpy.ascontiguousarray), as are big-endian data, other dtypes, a data
// section shorter or longer than the shape says, and malformed headers.
// A file is read header first: the magic, the version and the header (at
// most kMaxHeaderBytes) are checked before anything else is read; then
// exactly the bytes the shape declares are read, and for a regular file its
// size is compared with the shape before any memory is allocated. So
// /dev/zero, a 4 GB file that is not a .npy, or a 100-byte file whose header
// claims a terabyte fail at once. Pipes and character devices (/dev/stdin)
// are read the same way; a directory is an error of its own.
//
// Writing goes through OutputFiles, by the kind of the target:
//   missing or a regular file: a temporary file beside it (same folder) is
//     written, fsync'ed and renamed over it, so a reader sees the old file
//     or the complete new one, never half of it; an existing file's
//     permission bits are kept (a new one gets 0666 less the umask);
//   a symbolic link: followed (up to 40 links; a relative one from the
//     link's folder) and the rename goes over the file it finally names, so
//     the link stays a link; a dangling link creates the file it names;
//   a character device or a FIFO (/dev/null, /dev/stdout, a named pipe):
//     opened and written directly, no temporary, no atomicity;
//   a directory, a block device or a socket: an error before anything is
//     written.
// Temporary files are removed on every failure and on SIGINT, SIGTERM,
// SIGHUP, SIGQUIT and SIGPIPE: while one exists a handler unlinks it (with
// async-signal-safe calls only) and re-raises the signal with its default
// action. A disposition other than the default (ignored, say under nohup)
// is left alone.
#pragma once

#include <cstddef>
#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace floatscope::npy {

struct NpyError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Dtype : uint8_t { kFloat32, kFloat64, kUint8, kUint16 };

// numpy's descr string: "<f4", "<f8", "|u1", "<u2".
const char* DescrOf(Dtype d);
size_t ItemSize(Dtype d);

// What a header says.
struct Header {
  Dtype dtype = Dtype::kFloat32;
  std::vector<size_t> shape;  // empty: a 0-d array of one element
  size_t data_offset = 0;     // where DATA starts in the file
};

// Number of elements of `shape` (1 for a 0-d array). Throws NpyError when
// the product does not fit in size_t.
size_t ElementCount(const std::vector<size_t>& shape);

// What a reader accepts, as its dtype error messages say it.
inline constexpr std::string_view kAnyDtype = "float32, float64, uint8 or uint16 ('<f4', '<f8', '|u1', '<u2')";
inline constexpr std::string_view kFloatDtypes = "float32 or float64 ('<f4', '<f8')";

// The longest header read: numpy writes a few hundred bytes, while a
// version 2.0 length field could claim 4 GiB.
inline constexpr size_t kMaxHeaderBytes = size_t{1} << 20;

// Parses the magic, version and header at the start of `bytes` (the whole
// file or at least its header): any of the four dtypes above, little-endian,
// C order. Throws NpyError("<name>: ...") on anything else; an unknown dtype
// is reported as "need <wanted>".
Header ParseHeader(std::string_view bytes, std::string_view name, std::string_view wanted = kAnyDtype);

// A file's header and its data bytes (exactly what the shape needs), any of
// the four dtypes; read header first (see the top of this file).
struct RawArray {
  Header header;
  std::string data;
};
RawArray ReadRawArray(const std::string& path, std::string_view wanted = kAnyDtype);

// A file's header and its data in memory, for reading in place: a regular
// file is mapped read-only (MAP_PRIVATE, its pages populated at once: no
// copy and no fresh memory), anything else (a pipe, a device, a file whose
// data would not be aligned to its items, a mapping that fails) is read as
// ReadRawArray reads it. The same checks and errors as ReadRawArray, header
// first. data() is aligned to the item size. Move-only; unmaps when gone.
//
// A mapped file that another program truncates while it is mapped would
// fault (SIGBUS) on the missing pages: while a mapping exists a handler
// turns that into one line on stderr ("floatscope: <path>: the file was
// truncated while it was read"), removes OutputFiles' temporaries and
// exits with status 2.
class ArrayData {
 public:
  ArrayData() = default;
  ArrayData(ArrayData&& o) noexcept;
  ArrayData& operator=(ArrayData&& o) noexcept;
  ArrayData(const ArrayData&) = delete;
  ArrayData& operator=(const ArrayData&) = delete;
  ~ArrayData();

  const Header& header() const { return header_; }
  const void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  bool mapped() const { return map_ != nullptr; }

 private:
  friend ArrayData MapArray(const std::string& path, std::string_view wanted);
  void Release() noexcept;
  Header header_;
  const void* data_ = nullptr;
  size_t bytes_ = 0;
  void* map_ = nullptr;  // the mapping (whole file up to the data's end), if any
  size_t map_bytes_ = 0;
  int slot_ = -1;        // its place in the SIGBUS handler's list
  std::string read_;     // the data when read, not mapped
};
ArrayData MapArray(const std::string& path, std::string_view wanted = kAnyDtype);

// A float array read from a file, widened exactly to float64. Only float32
// and float64 files are accepted.
struct FloatArray {
  Dtype dtype = Dtype::kFloat32;  // what the file held (kFloat32 or kFloat64)
  std::vector<size_t> shape;
  std::vector<double> values;  // C order
};

FloatArray ReadFloatArray(const std::string& path);

// The bytes before the data of an array: magic, version 1.0 (2.0 if the
// header would not fit 1.0) and the header padded to 64 bytes, as numpy.
std::string HeaderBytes(Dtype dtype, const std::vector<size_t>& shape);

// Throws NpyError unless `path` can be written as the top of this file
// describes: a directory, block device or socket, a symlink loop, or a
// missing or unwritable folder. For checking options before long work.
void CheckOutputPath(const std::string& path);

// A set of output files that appear together (quantize --codes writes the
// codes and 1-3 scale files). Add*() checks the target and, for a regular
// file, writes its temporary at once; Commit() writes the character
// devices and FIFOs, then renames the temporaries in the order they were
// added (put the main file last). What is guaranteed:
//   - a failure before the renames (a bad target, a full disk, a write
//     error, a signal) changes no target: every temporary is removed;
//   - if rename k fails, the k-1 files already renamed are removed again
//     (their old content is gone too) and the error says so: the set is
//     never a mix of new files and old ones, though it may be incomplete;
//   - the cleanup signals are blocked during the renames, so a signal
//     there lands after the last rename.
// What is not: POSIX has no rename of several files at once, so a reader
// that looks during the renames (microseconds) can see new and old files
// side by side, as can one after a crash or SIGKILL there; nothing is
// atomic for devices and FIFOs, which are written before the renames.
// Two entries naming the same file are an error.
class OutputFiles {
 public:
  OutputFiles() = default;
  OutputFiles(const OutputFiles&) = delete;
  OutputFiles& operator=(const OutputFiles&) = delete;
  ~OutputFiles();  // removes the temporaries of an uncommitted set

  // ElementCount(shape) items of `dtype` at `data`, C order. For a device
  // or FIFO target `data` is written by Commit(): keep it alive till then.
  void AddArray(const std::string& path, Dtype dtype, const std::vector<size_t>& shape, const void* data);
  // Any bytes (a JSON report, say).
  void AddBytes(const std::string& path, std::string bytes);

  // An array whose data come later, in pieces (quantize writes each chunk
  // as it is cast, with no copy of the whole array in memory). For a
  // regular file the temporary is created and given its header now, and
  // each piece is written at its place by Write; for a device or FIFO the
  // pieces are kept in memory until Commit() writes them in order. Returns
  // the handle Write and FinishArray take. Commit() renames the started
  // arrays after the entries of AddArray/AddBytes (a streamed main file
  // goes last, whenever it was started).
  size_t StartArray(const std::string& path, Dtype dtype, const std::vector<size_t>& shape);
  // Bytes [offset, offset + size) of started array `h`'s data. Safe to call
  // from several threads at once (no other member meanwhile); never throws:
  // the first failure is kept and FinishArray reports it.
  void Write(size_t h, size_t offset, const void* data, size_t size) noexcept;
  // After the last Write: fsyncs and closes the temporary; throws NpyError
  // for a failed write.
  void FinishArray(size_t h);

  void Commit();

 private:
  struct Entry {
    std::string path;         // as given, for messages
    std::string target;       // symlinks resolved
    bool through = false;     // a device or FIFO: written directly by Commit()
    std::string temp;         // its temporary while one exists
    int slot = -1;            // its place in the signal handler's list
    bool renamed = false;
    std::string head;         // device/FIFO: the bytes to write, then
    const char* data = nullptr;
    size_t size = 0;
    bool streamed = false;    // StartArray
    int fd = -1;              // streamed to a regular file: the open temporary
    size_t data_offset = 0;   // streamed: where the data start (the header's size)
    unsigned mode = 0;        // streamed: the permission bits the file gets
    std::vector<char> buffer; // streamed to a device or FIFO: the data
    std::unique_ptr<std::atomic<int>> error;  // streamed: the first failed Write's errno (0: none)
  };
  // Resolves and checks `path` and appends its entry; for a regular file
  // creates the temporary and writes `head` into it, and returns the open
  // descriptor (-1 for a device or FIFO, whose entry gets `head`).
  int Open(const std::string& path, std::string head);
  void Add(const std::string& path, std::string head, const char* data, size_t size);
  std::vector<Entry> entries_;
};

// One file: an OutputFiles of one entry, committed.
void WriteArray(const std::string& path, Dtype dtype, const std::vector<size_t>& shape, const void* data);

// `s` for a one-line message: printable ASCII only (others become '?'),
// cut to `max_chars` with "..." after.
std::string Printable(std::string_view s, size_t max_chars = 200);

}  // namespace floatscope::npy
