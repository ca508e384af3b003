#include "emulate/npy.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

namespace floatscope::npy {

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

// Shows a file name or header fragment in an error message: printable
// ASCII only.
std::string Shown(std::string_view s, size_t max_chars = 40) { return Printable(s, max_chars); }

[[noreturn]] void Fail(std::string_view name, const std::string& why) {
  throw NpyError(Shown(name, 200) + ": " + why);
}

// A value of the header dict: a string, a boolean or a tuple of integers.
struct Value {
  enum Kind { kString, kBool, kTuple } kind = kString;
  std::string text;
  bool flag = false;
  std::vector<size_t> tuple;
};

// Recursive-descent reader of the one dict literal numpy writes.
class DictParser {
 public:
  DictParser(std::string_view s, std::string_view name) : s_(s), name_(name) {}

  std::map<std::string, Value> Parse() {
    std::map<std::string, Value> out;
    Expect('{');
    SkipSpace();
    while (Peek() != '}') {
      const std::string key = ParseString();
      Expect(':');
      Value v = ParseValue();
      if (!out.emplace(key, std::move(v)).second) Bad("key '" + Shown(key) + "' appears twice");
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
        SkipSpace();
      } else if (Peek() != '}') {
        Bad("expected ',' or '}' in the header dict");
      }
    }
    ++pos_;
    for (; pos_ < s_.size(); ++pos_)
      if (s_[pos_] != ' ' && s_[pos_] != '\n' && s_[pos_] != '\t' && s_[pos_] != '\0')
        Bad("unexpected text after the header dict");
    return out;
  }

 private:
  [[noreturn]] void Bad(const std::string& why) {
    Fail(name_, "malformed .npy header (" + why + "): " + Shown(s_, 80));
  }
  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n')) ++pos_;
  }
  char Peek() {
    if (pos_ >= s_.size()) Bad("it ends early");
    return s_[pos_];
  }
  void Expect(char c) {
    SkipSpace();
    if (Peek() != c) Bad(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string ParseString() {
    SkipSpace();
    const char q = Peek();
    if (q != '\'' && q != '"') Bad("expected a quoted string");
    const size_t end = s_.find(q, pos_ + 1);
    if (end == std::string_view::npos) Bad("unterminated string");
    std::string out(s_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return out;
  }
  size_t ParseSize() {
    SkipSpace();
    size_t v = 0;
    const size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      const size_t d = static_cast<size_t>(s_[pos_] - '0');
      if (v > (std::numeric_limits<size_t>::max() - d) / 10) Bad("a dimension is too large");
      v = v * 10 + d;
      ++pos_;
    }
    if (pos_ == start) Bad("shape must be a tuple of non-negative integers");
    if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;  // Python 2 long suffix
    return v;
  }
  Value ParseValue() {
    SkipSpace();
    Value v;
    const char c = Peek();
    if (c == '\'' || c == '"') {
      v.kind = Value::kString;
      v.text = ParseString();
    } else if (s_.substr(pos_, 4) == "True") {
      v.kind = Value::kBool;
      v.flag = true;
      pos_ += 4;
    } else if (s_.substr(pos_, 5) == "False") {
      v.kind = Value::kBool;
      pos_ += 5;
    } else if (c == '(') {
      v.kind = Value::kTuple;
      ++pos_;
      SkipSpace();
      while (Peek() != ')') {
        v.tuple.push_back(ParseSize());
        SkipSpace();
        if (Peek() == ',') {
          ++pos_;
          SkipSpace();
        } else if (Peek() != ')') {
          Bad("expected ',' or ')' in shape");
        }
      }
      ++pos_;
    } else {
      Bad("unsupported value");
    }
    return v;
  }

  std::string_view s_;
  std::string_view name_;
  size_t pos_ = 0;
};

uint32_t ReadLe(std::string_view b, size_t at, size_t bytes) {
  uint32_t v = 0;
  for (size_t i = 0; i < bytes; ++i) v |= uint32_t{static_cast<unsigned char>(b[at + i])} << (8 * i);
  return v;
}

std::string ErrnoText() { return std::strerror(errno); }

std::string ShapeText(const std::vector<size_t>& shape) {
  // Python's tuple syntax: (), (3,), (3, 4).
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace

const char* DescrOf(Dtype d) {
  switch (d) {
    case Dtype::kFloat32: return "<f4";
    case Dtype::kFloat64: return "<f8";
    case Dtype::kUint8: return "|u1";
    case Dtype::kUint16: return "<u2";
  }
  return "?";
}

size_t ItemSize(Dtype d) {
  switch (d) {
    case Dtype::kFloat32: return 4;
    case Dtype::kFloat64: return 8;
    case Dtype::kUint8: return 1;
    case Dtype::kUint16: return 2;
  }
  return 0;
}

size_t ElementCount(const std::vector<size_t>& shape) {
  size_t n = 1;
  for (const size_t d : shape) {
    if (d != 0 && n > std::numeric_limits<size_t>::max() / d)
      throw NpyError("shape " + ShapeText(shape) + " has too many elements");
    n *= d;
  }
  return n;
}

Header ParseHeader(std::string_view bytes, std::string_view name, std::string_view wanted) {
  if (bytes.size() < kMagic.size() || bytes.substr(0, kMagic.size()) != kMagic)
    Fail(name, "not a .npy file (bad magic; expected \\x93NUMPY)");
  if (bytes.size() < 8) Fail(name, "truncated .npy header");
  const int major = static_cast<unsigned char>(bytes[6]), minor = static_cast<unsigned char>(bytes[7]);
  size_t len_bytes = 0;
  if (major == 1 && minor == 0) len_bytes = 2;
  else if ((major == 2 || major == 3) && minor == 0) len_bytes = 4;
  else Fail(name, "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                      " (supported: 1.0, 2.0, 3.0)");
  if (bytes.size() < 8 + len_bytes) Fail(name, "truncated .npy header");
  const size_t header_len = ReadLe(bytes, 8, len_bytes);
  if (header_len > kMaxHeaderBytes)
    Fail(name, "the .npy header claims " + std::to_string(header_len) + " bytes, more than the " +
                   std::to_string(kMaxHeaderBytes) + " this reader accepts");
  Header h;
  h.data_offset = 8 + len_bytes + header_len;
  if (bytes.size() < h.data_offset) Fail(name, "truncated .npy header");
  const auto dict = DictParser(bytes.substr(8 + len_bytes, header_len), name).Parse();
  for (const auto& [key, v] : dict)
    if (key != "descr" && key != "fortran_order" && key != "shape")
      Fail(name, "malformed .npy header (unknown key '" + Shown(key) + "')");
  const auto descr = dict.find("descr"), fortran = dict.find("fortran_order"), shape = dict.find("shape");
  if (descr == dict.end() || fortran == dict.end() || shape == dict.end())
    Fail(name, "malformed .npy header (needs the keys descr, fortran_order and shape)");
  if (descr->second.kind != Value::kString) Fail(name, "malformed .npy header (descr is not a string)");
  if (fortran->second.kind != Value::kBool) Fail(name, "malformed .npy header (fortran_order is not True/False)");
  if (shape->second.kind != Value::kTuple) Fail(name, "malformed .npy header (shape is not a tuple)");
  const std::string& d = descr->second.text;
  if (d == "<f4") h.dtype = Dtype::kFloat32;
  else if (d == "<f8") h.dtype = Dtype::kFloat64;
  else if (d == "|u1") h.dtype = Dtype::kUint8;
  else if (d == "<u2") h.dtype = Dtype::kUint16;
  else if (d.size() == 3 && d[0] == '>' && (d == ">f4" || d == ">f8" || d == ">u2"))
    Fail(name, "dtype '" + d + "' is big-endian; need little-endian " + std::string(wanted));
  else Fail(name, "dtype '" + Shown(d) + "' is not supported; need " + std::string(wanted));
  if (fortran->second.flag)
    Fail(name, "Fortran-order arrays are not supported; save a C-order copy (numpy.ascontiguousarray)");
  h.shape = shape->second.tuple;
  try {
    ElementCount(h.shape);
  } catch (const NpyError& e) {
    Fail(name, e.what());
  }
  return h;
}

namespace {

// A file descriptor closed on scope exit.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// Reads up to `len` bytes (fewer only at end of file); -1 on an error.
ssize_t ReadUpTo(int fd, char* p, size_t len) {
  size_t got = 0;
  while (got < len) {
    const ssize_t r = ::read(fd, p + got, len - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

bool WriteAll(int fd, const char* p, size_t len) {
  while (len > 0) {
    const ssize_t w = ::write(fd, p, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    len -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

namespace {

// An input file, open, with its header read and checked.
struct OpenInput {
  explicit OpenInput(const std::string& path);
  // Reads and checks the header; for a regular file also its size against
  // the shape. `data` gets the data bytes read with the header (a header
  // shorter than 12 - 8 - len bytes).
  void ReadHeader(std::string_view wanted);
  // Reads the rest of the data into `data`, then checks that nothing follows.
  void ReadData();
  [[noreturn]] void Truncated(uint64_t have) const;

  const std::string& path;
  Fd f;
  struct stat st {};
  Header header;
  size_t want = 0;   // data bytes the shape declares
  std::string data;
};

OpenInput::OpenInput(const std::string& p) : path(p), f(::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY)) {
  if (f.fd < 0) Fail(path, "cannot open: " + ErrnoText());
  if (::fstat(f.fd, &st) != 0) Fail(path, "cannot stat: " + ErrnoText());
  if (S_ISDIR(st.st_mode)) Fail(path, "is a directory, not a .npy file");
}

bool ReadMore(int fd, const std::string& path, std::string* into, size_t len) {
  const size_t at = into->size();
  into->resize(at + len);
  const ssize_t got = ReadUpTo(fd, into->data() + at, len);
  if (got < 0) Fail(path, "read error: " + ErrnoText());
  into->resize(at + static_cast<size_t>(got));
  return static_cast<size_t>(got) == len;
}

void OpenInput::Truncated(uint64_t have) const {
  Fail(path, "truncated data: shape " + ShapeText(header.shape) + " of " + DescrOf(header.dtype) + " needs " +
                 std::to_string(want) + " bytes, the file has " + std::to_string(have));
}

void OpenInput::ReadHeader(std::string_view wanted) {
  // Magic, version and header length first (12 bytes hold them for every
  // version), then the header that length declares, then the data.
  std::string head;
  ReadMore(f.fd, path, &head, 12);
  if (head.size() < kMagic.size() || head.compare(0, kMagic.size(), kMagic) != 0)
    Fail(path, "not a .npy file (bad magic; expected \\x93NUMPY)");
  size_t header_end = head.size();
  if (head.size() >= 10) {
    const bool v1 = head[6] == 1;
    const size_t len_bytes = v1 ? 2 : 4;
    if (head.size() >= 8 + len_bytes) {
      const size_t header_len = ReadLe(head, 8, len_bytes);
      if (header_len <= kMaxHeaderBytes) header_end = 8 + len_bytes + header_len;
    }
  }
  if (header_end > head.size()) ReadMore(f.fd, path, &head, header_end - head.size());
  header = ParseHeader(head, path, wanted);  // every header error, truncation included
  const size_t n = ElementCount(header.shape), item = ItemSize(header.dtype);
  if (n > std::numeric_limits<size_t>::max() / item) Fail(path, "shape " + ShapeText(header.shape) + " is too large");
  want = n * item;
  // The bytes already read past the header belong to the data.
  data = head.substr(header.data_offset);
  if (S_ISREG(st.st_mode)) {
    const auto size = static_cast<uint64_t>(st.st_size);
    const uint64_t have = size > header.data_offset ? size - header.data_offset : 0;
    if (have < want) Truncated(have);
    if (have > want)
      Fail(path, "the file has " + std::to_string(have - want) + " bytes after the data that shape " +
                     ShapeText(header.shape) + " describes");
  }
}

void OpenInput::ReadData() {
  // Read in steps of at most 64 MiB, so that a pipe claiming more than it
  // holds costs only what it holds.
  constexpr size_t kStep = size_t{64} << 20;
  while (data.size() < want) {
    if (!ReadMore(f.fd, path, &data, std::min(kStep, want - data.size()))) Truncated(data.size());
  }
  if (data.size() > want)
    Fail(path, "the file has bytes after the data that shape " + ShapeText(header.shape) + " describes");
  std::string extra;
  if (ReadMore(f.fd, path, &extra, 1))
    Fail(path, "the file has bytes after the data that shape " + ShapeText(header.shape) + " describes");
}

}  // namespace

RawArray ReadRawArray(const std::string& path, std::string_view wanted) {
  OpenInput in(path);
  in.ReadHeader(wanted);
  in.ReadData();
  RawArray out;
  out.header = std::move(in.header);
  out.data = std::move(in.data);
  return out;
}

// ---------------------------------------------------------------------------
// Mapped inputs
// ---------------------------------------------------------------------------

namespace {

// The mappings that exist now, for the SIGBUS handler: the range and the
// path to name. Slots are seqlocks, as the temporaries' (below).
struct MapSlot {
  std::atomic<uint64_t> version{0};
  uintptr_t begin = 0, end = 0;
  char path[512] = {};
};
constexpr int kMapSlots = 16;
MapSlot g_maps[kMapSlots];
std::mutex g_maps_mutex;

void RemoveTemps();  // below, with the temporaries

void WriteStderr(const char* s) {
  size_t len = std::strlen(s);
  while (len > 0) {
    const ssize_t w = ::write(2, s, len);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      return;
    }
    s += w;
    len -= static_cast<size_t>(w);
  }
}

void OnSigbus(int sig, siginfo_t* info, void*) {
  const auto at = reinterpret_cast<uintptr_t>(info ? info->si_addr : nullptr);
  for (MapSlot& slot : g_maps) {
    const uint64_t v = slot.version.load(std::memory_order_acquire);
    if (!(v & 1)) continue;
    char path[sizeof slot.path];
    std::memcpy(path, slot.path, sizeof path);
    const uintptr_t b = slot.begin, e = slot.end;
    std::atomic_thread_fence(std::memory_order_acquire);
    if (slot.version.load(std::memory_order_relaxed) != v || at < b || at >= e) continue;
    path[sizeof path - 1] = '\0';
    RemoveTemps();
    WriteStderr("floatscope: ");
    WriteStderr(path);
    WriteStderr(": the file was truncated while it was read (another program changed it)\n");
    ::_exit(2);
  }
  // Not a mapped input's page: the default action, once this returns and
  // the access faults again.
  RemoveTemps();
  ::signal(sig, SIG_DFL);
}

int RegisterMap(const std::string& path, const void* begin, size_t bytes) {
  const std::lock_guard<std::mutex> lock(g_maps_mutex);
  static bool installed = false;
  if (!installed) {
    installed = true;
    struct sigaction old {};
    if (::sigaction(SIGBUS, nullptr, &old) == 0 && !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL) {
      struct sigaction sa {};
      sa.sa_sigaction = OnSigbus;
      sa.sa_flags = SA_SIGINFO;
      sigemptyset(&sa.sa_mask);
      ::sigaction(SIGBUS, &sa, nullptr);
    }
  }
  for (int i = 0; i < kMapSlots; ++i) {
    MapSlot& slot = g_maps[i];
    const uint64_t v = slot.version.load(std::memory_order_relaxed);
    if (v & 1) continue;
    const std::string shown = Printable(path, sizeof slot.path - 8);
    std::memcpy(slot.path, shown.c_str(), shown.size() + 1);
    slot.begin = reinterpret_cast<uintptr_t>(begin);
    slot.end = slot.begin + bytes;
    slot.version.store(v + 1, std::memory_order_release);
    return i;
  }
  return -1;
}

void UnregisterMap(int i) {
  if (i < 0) return;
  const std::lock_guard<std::mutex> lock(g_maps_mutex);
  g_maps[i].version.fetch_add(1, std::memory_order_release);
}

}  // namespace

ArrayData::ArrayData(ArrayData&& o) noexcept { *this = std::move(o); }

ArrayData& ArrayData::operator=(ArrayData&& o) noexcept {
  if (this == &o) return *this;
  Release();
  header_ = std::move(o.header_);
  read_ = std::move(o.read_);
  map_ = std::exchange(o.map_, nullptr);
  map_bytes_ = std::exchange(o.map_bytes_, 0);
  slot_ = std::exchange(o.slot_, -1);
  bytes_ = std::exchange(o.bytes_, 0);
  data_ = map_ ? std::exchange(o.data_, nullptr) : (bytes_ ? read_.data() : nullptr);
  o.data_ = nullptr;
  return *this;
}

ArrayData::~ArrayData() { Release(); }

void ArrayData::Release() noexcept {
  if (map_) {
    UnregisterMap(slot_);
    ::munmap(map_, map_bytes_);
  }
  map_ = nullptr;
  map_bytes_ = 0;
  slot_ = -1;
  data_ = nullptr;
  bytes_ = 0;
  read_.clear();
}

ArrayData MapArray(const std::string& path, std::string_view wanted) {
  OpenInput in(path);
  in.ReadHeader(wanted);
  ArrayData out;
  const size_t item = ItemSize(in.header.dtype);
  if (S_ISREG(in.st.st_mode) && in.want > 0 && in.header.data_offset % item == 0) {
    const size_t len = in.header.data_offset + in.want;
    void* m = ::mmap(nullptr, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, in.f.fd, 0);
    if (m != MAP_FAILED) {
      out.header_ = std::move(in.header);
      out.map_ = m;
      out.map_bytes_ = len;
      out.data_ = static_cast<const char*>(m) + out.header_.data_offset;
      out.bytes_ = in.want;
      out.slot_ = RegisterMap(path, m, len);
      return out;
    }
  }
  // Read: the bytes go straight into the string the data stay in (its
  // storage is aligned for any item: operator new's alignment).
  in.ReadData();
  out.header_ = std::move(in.header);
  out.read_ = std::move(in.data);
  out.bytes_ = out.read_.size();
  out.data_ = out.bytes_ ? out.read_.data() : nullptr;
  return out;
}

FloatArray ReadFloatArray(const std::string& path) {
  RawArray raw = ReadRawArray(path, kFloatDtypes);
  const Header& h = raw.header;
  if (h.dtype != Dtype::kFloat32 && h.dtype != Dtype::kFloat64)
    Fail(path, std::string("dtype '") + DescrOf(h.dtype) + "' is not supported; need " + std::string(kFloatDtypes));
  const size_t n = ElementCount(h.shape);
  FloatArray out;
  out.dtype = h.dtype;
  out.shape = h.shape;
  out.values.resize(n);
  const char* p = raw.data.data();
  // Little-endian host assumed (checked at compile time below): memcpy reads
  // the stored bits exactly; float -> double widening is exact.
  static_assert(std::endian::native == std::endian::little, "npy reader assumes a little-endian host");
  if (h.dtype == Dtype::kFloat64) {
    if (n > 0) std::memcpy(out.values.data(), p, n * 8);  // an empty vector's data() may be null
  } else {
    for (size_t i = 0; i < n; ++i) {
      float v;
      std::memcpy(&v, p + 4 * i, 4);
      out.values[i] = v;
    }
  }
  return out;
}

std::string HeaderBytes(Dtype dtype, const std::vector<size_t>& shape) {
  std::string dict = std::string("{'descr': '") + DescrOf(dtype) + "', 'fortran_order': False, 'shape': " +
                     ShapeText(shape) + ", }";
  // Pad so that the data starts at a multiple of 64 bytes, as numpy does.
  int major = 1;
  size_t prefix = 10;
  size_t total = prefix + dict.size() + 1;
  if (((total + 63) / 64) * 64 - prefix > 65535) {
    major = 2;
    prefix = 12;
    total = prefix + dict.size() + 1;
  }
  const size_t padded = (total + 63) / 64 * 64;
  dict.append(padded - total, ' ');
  dict += '\n';
  const size_t header_len = dict.size();
  std::string head(kMagic);
  head += static_cast<char>(major);
  head += '\0';
  for (size_t i = 0; i < prefix - 8; ++i) head += static_cast<char>((header_len >> (8 * i)) & 0xFF);
  return head + dict;
}

// ---------------------------------------------------------------------------
// Output files
// ---------------------------------------------------------------------------

namespace {

// The signals whose default action would end the process with a temporary
// file left behind.
constexpr int kCleanupSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE};

// The temporaries that exist now, for the signal handler. A slot is a
// seqlock: the writer (under g_temps_mutex) fills `path` while `version` is
// even and makes it odd to publish it, even again to withdraw it; the
// handler copies an odd slot and unlinks the copy only if `version` did
// not change meanwhile (the handler may run on another thread).
struct TempSlot {
  std::atomic<uint64_t> version{0};
  char path[PATH_MAX] = {};
};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "the signal handler needs lock-free atomics");
constexpr int kTempSlots = 32;
TempSlot g_temps[kTempSlots];
std::mutex g_temps_mutex;

void RemoveTemps() {
  for (TempSlot& slot : g_temps) {
    const uint64_t v = slot.version.load(std::memory_order_acquire);
    if (!(v & 1)) continue;
    char copy[PATH_MAX];
    std::memcpy(copy, slot.path, sizeof copy);
    std::atomic_thread_fence(std::memory_order_acquire);
    copy[PATH_MAX - 1] = '\0';
    if (slot.version.load(std::memory_order_relaxed) == v) ::unlink(copy);
  }
}

void RemoveTempsAndReraise(int sig) {
  RemoveTemps();
  // SA_RESETHAND restored the default action: the signal ends the process
  // once this handler returns.
  ::raise(sig);
}

void InstallCleanupHandlers() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  struct sigaction sa {};
  sa.sa_handler = RemoveTempsAndReraise;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (const int sig : kCleanupSignals) sigaddset(&sa.sa_mask, sig);
  for (const int sig : kCleanupSignals) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) == 0 && !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL)
      ::sigaction(sig, &sa, nullptr);
  }
}

// Returns the slot, or -1 when the path is too long or all slots are taken
// (the file is then only removed by the ordinary error paths).
int RegisterTemp(const std::string& path) {
  const std::lock_guard<std::mutex> lock(g_temps_mutex);
  InstallCleanupHandlers();
  if (path.size() >= PATH_MAX) return -1;
  for (int i = 0; i < kTempSlots; ++i) {
    TempSlot& slot = g_temps[i];
    const uint64_t v = slot.version.load(std::memory_order_relaxed);
    if (v & 1) continue;
    std::memcpy(slot.path, path.c_str(), path.size() + 1);
    slot.version.store(v + 1, std::memory_order_release);
    return i;
  }
  return -1;
}

void UnregisterTemp(int i) {
  if (i < 0) return;
  const std::lock_guard<std::mutex> lock(g_temps_mutex);
  g_temps[i].version.fetch_add(1, std::memory_order_release);
}

// Blocks the cleanup signals in this thread for its lifetime: around
// creating and registering a temporary, and around the renames.
class BlockCleanupSignals {
 public:
  BlockCleanupSignals() {
    sigset_t set;
    sigemptyset(&set);
    for (const int sig : kCleanupSignals) sigaddset(&set, sig);
    ::pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~BlockCleanupSignals() { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  BlockCleanupSignals(const BlockCleanupSignals&) = delete;
  BlockCleanupSignals& operator=(const BlockCleanupSignals&) = delete;

 private:
  sigset_t old_;
};

std::string FolderOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return path.substr(0, slash == 0 ? 1 : slash);
}

// What an output path finally names.
struct Target {
  std::string path;        // symlinks resolved
  bool through = false;    // a character device or FIFO
  bool exists = false;
  mode_t mode = 0;         // an existing regular file's permission bits
  dev_t dev = 0;
  ino_t ino = 0;
};

Target ResolveTarget(const std::string& given) {
  if (given.empty()) throw NpyError("an output path is empty");
  Target t;
  t.path = given;
  for (int links = 0;; ++links) {
    struct stat st {};
    if (::lstat(t.path.c_str(), &st) != 0) {
      if (errno == ENOENT) return t;  // to be created; its folder is checked by the caller
      Fail(given, "cannot write there: " + ErrnoText());
    }
    if (S_ISLNK(st.st_mode)) {
      if (links == 40) Fail(given, "too many levels of symbolic links");
      std::string to(PATH_MAX, '\0');
      const ssize_t len = ::readlink(t.path.c_str(), to.data(), to.size());
      if (len < 0) Fail(given, "cannot read the symbolic link " + Shown(t.path, 200) + ": " + ErrnoText());
      to.resize(static_cast<size_t>(len));
      t.path = !to.empty() && to[0] == '/' ? to : FolderOf(t.path) + "/" + to;
      continue;
    }
    t.exists = true;
    t.dev = st.st_dev;
    t.ino = st.st_ino;
    if (S_ISREG(st.st_mode)) {
      t.mode = st.st_mode & 0777;
      return t;
    }
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
      t.through = true;
      return t;
    }
    if (S_ISDIR(st.st_mode)) Fail(given, "is a directory");
    Fail(given, std::string("is a ") + (S_ISBLK(st.st_mode) ? "block device" : "socket") +
                    "; write to a regular file, a character device or a FIFO");
  }
}

void CheckFolder(const std::string& given, const Target& t) {
  if (t.exists && t.through) return;
  const std::string dir = FolderOf(t.path);
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    Fail(given, "cannot create a temporary file in " + Shown(dir, 200) + ": " + ErrnoText());
}

mode_t NewFileMode() {
  static const mode_t mode = [] {
    const mode_t mask = ::umask(0);
    ::umask(mask);
    return 0666 & ~mask;
  }();
  return mode;
}

}  // namespace

void CheckOutputPath(const std::string& path) { CheckFolder(path, ResolveTarget(path)); }

OutputFiles::~OutputFiles() {
  for (Entry& e : entries_) {
    if (e.fd >= 0) ::close(e.fd);
    if (e.temp.empty()) continue;
    ::unlink(e.temp.c_str());
    UnregisterTemp(e.slot);
  }
}

void OutputFiles::AddArray(const std::string& path, Dtype dtype, const std::vector<size_t>& shape, const void* data) {
  const size_t n = ElementCount(shape);
  Add(path, HeaderBytes(dtype, shape), static_cast<const char*>(data), n * ItemSize(dtype));
}

void OutputFiles::AddBytes(const std::string& path, std::string bytes) { Add(path, std::move(bytes), nullptr, 0); }

int OutputFiles::Open(const std::string& path, std::string head) {
  const Target t = ResolveTarget(path);
  CheckFolder(path, t);
  for (const Entry& e : entries_) {
    struct stat st {};
    const bool same_file = e.target == t.path || (t.exists && ::stat(e.target.c_str(), &st) == 0 &&
                                                   st.st_dev == t.dev && st.st_ino == t.ino);
    if (same_file) Fail(path, "is the same file as " + Shown(e.path, 200) + ", written with it");
  }
  Entry& e = entries_.emplace_back();
  e.path = path;
  e.target = t.path;
  e.through = t.through;
  if (e.through) {
    e.head = std::move(head);
    return -1;
  }
  // mkstemp makes the file 0600: it gets the old file's bits, or the usual
  // ones (umask applies).
  e.mode = t.exists ? t.mode : NewFileMode();
  // The temporary lives beside the target so that rename() is atomic; its
  // name stays within NAME_MAX.
  const std::string dir = FolderOf(t.path);
  const size_t slash = t.path.rfind('/');
  std::string base = slash == std::string::npos ? t.path : t.path.substr(slash + 1);
  if (base.size() > 200) base.resize(200);
  std::string tmp = dir + "/." + base + ".tmpXXXXXX";
  int fd = -1;
  {
    const BlockCleanupSignals block;  // no signal between creating it and registering it
    fd = ::mkostemp(tmp.data(), O_CLOEXEC);
    if (fd >= 0) {
      e.temp = tmp;
      e.slot = RegisterTemp(tmp);
    }
  }
  if (fd < 0) Fail(path, "cannot create a temporary file in " + Shown(dir, 200) + ": " + ErrnoText());
  if (!WriteAll(fd, head.data(), head.size())) {
    const std::string why = ErrnoText();
    ::close(fd);
    Fail(path, "cannot write: " + why);  // the destructor removes the temporary
  }
  e.data_offset = head.size();
  return fd;
}

void OutputFiles::Add(const std::string& path, std::string head, const char* data, size_t size) {
  const int fd = Open(path, std::move(head));
  Entry& e = entries_.back();
  if (fd < 0) {
    e.data = data;
    e.size = size;
    return;
  }
  bool ok = WriteAll(fd, data, size) && ::fsync(fd) == 0;
  std::string why = ok ? "" : ErrnoText();
  ::fchmod(fd, static_cast<mode_t>(e.mode));
  if (::close(fd) != 0 && ok) {
    ok = false;
    why = ErrnoText();
  }
  if (!ok) Fail(path, "cannot write: " + why);  // the destructor removes the temporary
}

size_t OutputFiles::StartArray(const std::string& path, Dtype dtype, const std::vector<size_t>& shape) {
  const size_t bytes = ElementCount(shape) * ItemSize(dtype);
  const int fd = Open(path, HeaderBytes(dtype, shape));
  Entry& e = entries_.back();
  e.streamed = true;
  e.error = std::make_unique<std::atomic<int>>(0);
  e.fd = fd;
  e.size = bytes;
  if (fd < 0) {
    e.buffer.resize(bytes);
    e.data = e.buffer.data();
  }
  return entries_.size() - 1;
}

void OutputFiles::Write(size_t h, size_t offset, const void* data, size_t size) noexcept {
  Entry& e = entries_[h];
  if (e.error->load(std::memory_order_relaxed) != 0) return;
  if (offset > e.size || size > e.size - offset) {
    e.error->store(EINVAL);
    return;
  }
  if (e.fd < 0) {
    if (size) std::memcpy(e.buffer.data() + offset, data, size);
    return;
  }
  const char* p = static_cast<const char*>(data);
  off_t at = static_cast<off_t>(e.data_offset + offset);
  while (size > 0) {
    const ssize_t w = ::pwrite(e.fd, p, size, at);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int expected = 0;
      e.error->compare_exchange_strong(expected, w < 0 ? errno : EIO);
      return;
    }
    p += w;
    at += w;
    size -= static_cast<size_t>(w);
  }
}

void OutputFiles::FinishArray(size_t h) {
  Entry& e = entries_[h];
  if (e.fd < 0) {
    if (const int err = e.error->load(); err != 0) Fail(e.path, std::string("cannot write: ") + std::strerror(err));
    return;
  }
  const int fd = std::exchange(e.fd, -1);
  int err = e.error->load();
  // A file shorter than its header says (a piece never written) is a bug
  // here, not a reader's problem: the size is set in full.
  if (err == 0 && ::ftruncate(fd, static_cast<off_t>(e.data_offset + e.size)) != 0) err = errno;
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  ::fchmod(fd, static_cast<mode_t>(e.mode));
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) Fail(e.path, std::string("cannot write: ") + std::strerror(err));  // the destructor removes the temporary
}

void OutputFiles::Commit() {
  for (const Entry& e : entries_)
    if (e.streamed && e.fd >= 0) Fail(e.path, "internal error: committed before FinishArray");
  // Devices and FIFOs first: they cannot be taken back, and a failure there
  // must still leave every regular target untouched.
  for (Entry& e : entries_) {
    if (!e.through) continue;
    const Fd f(::open(e.target.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY));
    if (f.fd < 0) Fail(e.path, "cannot open: " + ErrnoText());
    if (!WriteAll(f.fd, e.head.data(), e.head.size()) || !WriteAll(f.fd, e.data, e.size))
      Fail(e.path, "cannot write: " + ErrnoText());
  }
  // The order of the renames: the entries of AddArray/AddBytes as added,
  // then the started arrays as started.
  std::vector<size_t> order;
  for (const bool streamed : {false, true})
    for (size_t i = 0; i < entries_.size(); ++i)
      if (entries_[i].streamed == streamed) order.push_back(i);
  const BlockCleanupSignals block;
  for (size_t k = 0; k < order.size(); ++k) {
    const size_t i = order[k];
    Entry& e = entries_[i];
    if (e.through) continue;
    if (std::rename(e.temp.c_str(), e.target.c_str()) != 0) {
      std::string why = ErrnoText(), removed;
      for (size_t j = 0; j < entries_.size(); ++j) {
        if (!entries_[j].renamed) continue;
        ::unlink(entries_[j].target.c_str());
        removed += (removed.empty() ? "" : ", ") + Shown(entries_[j].path, 200);
      }
      if (!removed.empty()) why += "; removed " + removed + ", written with it, so that no new file stands beside old ones";
      Fail(e.path, "cannot replace the file: " + why);  // the destructor removes the other temporaries
    }
    e.renamed = true;
    UnregisterTemp(e.slot);
    e.slot = -1;
    e.temp.clear();
  }
}

void WriteArray(const std::string& path, Dtype dtype, const std::vector<size_t>& shape, const void* data) {
  OutputFiles out;
  out.AddArray(path, dtype, shape, data);
  out.Commit();
}

std::string Printable(std::string_view s, size_t max_chars) {
  std::string out;
  for (const char ch : s.substr(0, max_chars)) {
    const auto c = static_cast<unsigned char>(ch);
    out += c >= 32 && c < 127 ? ch : '?';
  }
  if (s.size() > max_chars) out += "...";
  return out;
}

}  // namespace floatscope::npy
