#include "emulate/npy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <optional>

namespace floatscope::npy {

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

// Shows a file name or header fragment in an error message: printable
// ASCII only.
std::string Shown(std::string_view s, size_t max_chars = 40) {
  std::string out;
  for (const char ch : s.substr(0, max_chars)) {
    const auto c = static_cast<unsigned char>(ch);
    out += c >= 32 && c < 127 ? ch : '?';
  }
  if (s.size() > max_chars) out += "...";
  return out;
}

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

Header ParseHeader(std::string_view bytes, std::string_view name) {
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
  else if (d == ">f4" || d == ">f8")
    Fail(name, "dtype '" + d + "' is big-endian; need little-endian float32 or float64 ('<f4', '<f8')");
  else Fail(name, "dtype '" + Shown(d) + "' is not supported; need float32 or float64 ('<f4', '<f8')");
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

FloatArray ReadFloatArray(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) Fail(path, "cannot open: " + ErrnoText());
  std::string bytes;
  char buf[1 << 16];
  size_t got = 0;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.append(buf, got);
  const bool err = std::ferror(f);
  std::fclose(f);
  if (err) Fail(path, "read error");
  const Header h = ParseHeader(bytes, path);
  if (h.dtype != Dtype::kFloat32 && h.dtype != Dtype::kFloat64)
    Fail(path, std::string("dtype '") + DescrOf(h.dtype) + "' is not supported; need float32 or float64 ('<f4', '<f8')");
  const size_t n = ElementCount(h.shape);
  const size_t item = ItemSize(h.dtype);
  if (n > (std::numeric_limits<size_t>::max() - h.data_offset) / item) Fail(path, "shape too large");
  const size_t want = n * item, have = bytes.size() - h.data_offset;
  if (have < want)
    Fail(path, "truncated data: shape " + ShapeText(h.shape) + " of " + DescrOf(h.dtype) + " needs " +
                   std::to_string(want) + " bytes, the file has " + std::to_string(have));
  if (have > want)
    Fail(path, "the file has " + std::to_string(have - want) + " bytes after the data that shape " +
                   ShapeText(h.shape) + " describes");
  FloatArray out;
  out.dtype = h.dtype;
  out.shape = h.shape;
  out.values.resize(n);
  const char* p = bytes.data() + h.data_offset;
  // Little-endian host assumed (checked at compile time below): memcpy reads
  // the stored bits exactly; float -> double widening is exact.
  static_assert(std::endian::native == std::endian::little, "npy reader assumes a little-endian host");
  if (h.dtype == Dtype::kFloat64) {
    std::memcpy(out.values.data(), p, want);
  } else {
    for (size_t i = 0; i < n; ++i) {
      float v;
      std::memcpy(&v, p + 4 * i, 4);
      out.values[i] = v;
    }
  }
  return out;
}

void WriteArray(const std::string& path, Dtype dtype, const std::vector<size_t>& shape, const void* data) {
  const size_t n = ElementCount(shape);
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
  head += dict;

  // The temporary lives beside the target so that rename() is atomic.
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string tmp = dir + "/." + base + ".tmpXXXXXX";
  const int fd = mkstemp(tmp.data());
  if (fd < 0) Fail(path, "cannot create a temporary file in " + dir + ": " + ErrnoText());
  auto write_all = [&](const char* p, size_t len) {
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
  };
  const bool ok = write_all(head.data(), head.size()) &&
                  write_all(static_cast<const char*>(data), n * ItemSize(dtype)) && ::fsync(fd) == 0;
  const std::string why = ok ? "" : ErrnoText();
  // mkstemp makes the file 0600; give it the usual permissions (umask applies).
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  if (::close(fd) != 0 && ok) {
    const std::string e = ErrnoText();
    ::unlink(tmp.c_str());
    Fail(path, "cannot write: " + e);
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    Fail(path, "cannot write: " + why);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string e = ErrnoText();
    ::unlink(tmp.c_str());
    Fail(path, "cannot replace the file: " + e);
  }
}

}  // namespace floatscope::npy
