#include "train/data.h"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <string_view>

#include "emulate/npy.h"

#ifndef FLOATSCOPE_DEFAULT_DATA_DIR
#error "define FLOATSCOPE_DEFAULT_DATA_DIR (the build passes <source root>/data/cache)"
#endif

namespace floatscope::train {

namespace {

// The command that makes the cache, for error messages.
constexpr const char* kCacheCommand =
    "make it with `.venv/bin/python scripts/cache_data.py` in the source tree (scripts/setup.sh runs it; "
    "it writes to $FLOATSCOPE_DATA if set, else data/cache)";

// A path or name shown in a one-line message: printable ASCII only.
std::string Shown(std::string_view s) { return npy::Printable(s, 200); }

[[noreturn]] void Fail(const std::string& what) { throw DataError(what); }

std::string Hex(uint32_t v, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*X", digits, v);
  return buf;
}

std::string ShapeText(const std::vector<size_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

bool IsRegularFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// ---------------------------------------------------------------- .npy cache

// The path of cache file `file` of data set `set`; DataError naming the
// command that makes it when it is missing.
std::string CachePath(const std::string& dir, const std::string& set, const std::string& file) {
  const std::string path = dir + "/" + file;
  if (!IsRegularFile(path)) Fail(set + ": the cache file " + Shown(path) + " is missing; " + kCacheCommand);
  return path;
}

// A float32 array of shape (rows, cols) (rows == 0: any number of rows > 0).
std::vector<float> ReadFeatures(const std::string& set, const std::string& path, size_t rows, size_t cols) {
  npy::FloatArray a;
  try {
    a = npy::ReadFloatArray(path);
  } catch (const npy::NpyError& e) {
    Fail(set + ": " + e.what());
  }
  if (a.dtype != npy::Dtype::kFloat32)
    Fail(set + ": " + Shown(path) + ": dtype is float64 ('<f8'); the cache holds float32 ('<f4'); " + kCacheCommand);
  if (a.shape.size() != 2 || a.shape[1] != cols || (rows != 0 && a.shape[0] != rows) || a.shape[0] == 0)
    Fail(set + ": " + Shown(path) + ": shape " + ShapeText(a.shape) + ", expected (" +
         (rows ? std::to_string(rows) : std::string("N")) + ", " + std::to_string(cols) + ")");
  std::vector<float> out(a.values.size());
  for (size_t i = 0; i < out.size(); ++i) {
    if (!std::isfinite(a.values[i]))
      Fail(set + ": " + Shown(path) + ": element " + std::to_string(i) + " is not finite");
    out[i] = static_cast<float>(a.values[i]);  // exact: the file held float32
  }
  return out;
}

// A 1-d uint8 ('|u1') label array of `rows` labels, each < classes. (The
// project's .npy reader parses uint8 headers; the labels are read here.)
std::vector<int32_t> ReadLabels(const std::string& set, const std::string& path, size_t rows, size_t classes) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) Fail(set + ": " + Shown(path) + ": cannot open: " + std::strerror(errno));
  std::string bytes;
  char buf[1 << 16];
  size_t got = 0;
  while ((got = std::fread(buf, 1, sizeof buf, f.get())) > 0) bytes.append(buf, got);
  if (std::ferror(f.get())) Fail(set + ": " + Shown(path) + ": read error");
  npy::Header h;
  try {
    h = npy::ParseHeader(bytes, path);
  } catch (const npy::NpyError& e) {
    Fail(set + ": " + e.what());
  }
  if (h.dtype != npy::Dtype::kUint8)
    Fail(set + ": " + Shown(path) + ": dtype '" + npy::DescrOf(h.dtype) + "', labels must be uint8 ('|u1'); " +
         kCacheCommand);
  if (h.shape.size() != 1 || h.shape[0] != rows)
    Fail(set + ": " + Shown(path) + ": shape " + ShapeText(h.shape) + ", expected (" + std::to_string(rows) +
         ",) to match the features");
  const size_t have = bytes.size() - h.data_offset;
  if (have != rows)
    Fail(set + ": " + Shown(path) + ": the data section has " + std::to_string(have) + " bytes, shape " +
         ShapeText(h.shape) + " needs " + std::to_string(rows));
  std::vector<int32_t> out(rows);
  for (size_t i = 0; i < rows; ++i) {
    const auto v = static_cast<unsigned char>(bytes[h.data_offset + i]);
    if (v >= classes)
      Fail(set + ": " + Shown(path) + ": label " + std::to_string(v) + " at index " + std::to_string(i) +
           " is out of range (" + std::to_string(classes) + " classes)");
    out[i] = v;
  }
  return out;
}

// ---------------------------------------------------------------- IDX files

// One IDX file of unsigned bytes: its dimensions and its data.
struct IdxArray {
  std::vector<size_t> dims;
  std::vector<uint8_t> data;
};

// Reads an IDX file whose magic must be 0x000008NN with NN == ndim (3:
// images, 1: labels). Sizes are checked against the file's length before
// anything is allocated, and no more than the header declares is read.
IdxArray ReadIdx(const std::string& path, unsigned ndim) {
  const std::string where = "idx: " + Shown(path) + ": ";
  const char* what = ndim == 3 ? "images" : "labels";
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) Fail(where + "cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(::fileno(f.get()), &st) != 0 || !S_ISREG(st.st_mode)) Fail(where + "not a regular file");
  const auto file_size = static_cast<uint64_t>(st.st_size);

  auto read_exact = [&](void* dst, size_t n) {
    if (std::fread(dst, 1, n, f.get()) != n) Fail(where + "read error or file changed while reading");
  };
  if (file_size < 4)
    Fail(where + "truncated: " + std::to_string(file_size) + " bytes, an IDX header needs at least 4");
  unsigned char magic[4];
  read_exact(magic, 4);
  const uint32_t magic_word = uint32_t{magic[0]} << 24 | uint32_t{magic[1]} << 16 | uint32_t{magic[2]} << 8 | magic[3];
  const uint32_t want_magic = 0x800u | ndim;
  if (magic[0] != 0 || magic[1] != 0)
    Fail(where + "bad magic " + Hex(magic_word, 8) + ", not an IDX file (IDX " + what + " start with " +
         Hex(want_magic, 8) + ")");
  if (magic[2] != 0x08)
    Fail(where + "element type " + Hex(magic[2], 2) + " is not unsigned byte (0x08); magic " + Hex(magic_word, 8) +
         ", expected " + Hex(want_magic, 8));
  if (magic[3] != ndim)
    Fail(where + what + " must be " + std::to_string(ndim) + "-d" + (ndim == 3 ? " (N x H x W)" : " (N)") +
         ", the file has " + std::to_string(magic[3]) + " dimensions (magic " + Hex(magic_word, 8) +
         ", expected " + Hex(want_magic, 8) + ")");
  const uint64_t header = 4 + 4 * uint64_t{ndim};
  if (file_size < header)
    Fail(where + "truncated header: " + std::to_string(file_size) + " bytes, " + std::to_string(ndim) +
         " dimensions need " + std::to_string(header));
  IdxArray out;
  uint64_t count = 1;
  bool overflow = false;
  for (unsigned i = 0; i < ndim; ++i) {
    unsigned char b[4];
    read_exact(b, 4);
    const uint32_t d = uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
    if (d == 0) Fail(where + "dimension " + std::to_string(i) + " is 0");
    if (count > std::numeric_limits<uint64_t>::max() / d) overflow = true;
    count *= d;
    out.dims.push_back(d);
  }
  std::string dims_text;
  for (size_t i = 0; i < out.dims.size(); ++i) dims_text += (i ? " x " : "") + std::to_string(out.dims[i]);
  const uint64_t have = file_size - header;
  if (overflow || count > have)
    Fail(where + "truncated data: the header declares " + dims_text + " bytes, the file holds " +
         std::to_string(have));
  if (count < have)
    Fail(where + "the file has " + std::to_string(have - count) + " bytes after the " + dims_text +
         " that the header declares");
  out.data.resize(static_cast<size_t>(count));
  read_exact(out.data.data(), out.data.size());
  return out;
}

// IDX data sets here are MNIST-like: 10 classes.
constexpr size_t kIdxClasses = 10;

std::vector<int32_t> IdxLabels(const std::string& images_path, const IdxArray& images,
                               const std::string& labels_path) {
  const IdxArray labels = ReadIdx(labels_path, 1);
  if (labels.dims[0] != images.dims[0])
    Fail("idx: count mismatch: " + Shown(images_path) + " has " + std::to_string(images.dims[0]) + " images, " +
         Shown(labels_path) + " has " + std::to_string(labels.dims[0]) + " labels");
  std::vector<int32_t> out(labels.data.size());
  for (size_t i = 0; i < out.size(); ++i) {
    if (labels.data[i] >= kIdxClasses)
      Fail("idx: " + Shown(labels_path) + ": label " + std::to_string(labels.data[i]) + " at index " +
           std::to_string(i) + " is out of range (IDX data sets have " + std::to_string(kIdxClasses) +
           " classes, labels 0..9)");
    out[i] = labels.data[i];
  }
  return out;
}

std::vector<float> IdxPixels(const IdxArray& images) {
  std::vector<float> out(images.data.size());
  // One correctly rounded float division per pixel: v / 255.
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(images.data[i]) / 255.0f;
  return out;
}

// ---------------------------------------------------------------- modadd

bool IsPrime(int p) {
  if (p < 2) return false;
  for (int d = 2; d * d <= p; ++d)
    if (p % d == 0) return false;
  return true;
}

// SplitMix64 (Steele, Lea, Flood 2014): a fixed, portable generator, so the
// split is the same on every platform and standard library.
struct SplitMix64 {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n), n > 0, by rejection (no modulo bias).
  uint64_t Below(uint64_t n) {
    const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % n;
    uint64_t r;
    do r = Next();
    while (r >= limit);
    return r % n;
  }
};

constexpr uint64_t kModAddSeed = 0x6D6F64616464ull;  // "modadd"

int ParseModulus(const std::string& name, const std::string& digits) {
  if (digits.empty() || digits.size() > 3 || digits.find_first_not_of("0123456789") != std::string::npos)
    Fail("data set '" + Shown(name) + "': modadd:P needs P a prime number in 3..97");
  return std::stoi(digits);
}

}  // namespace

// ---------------------------------------------------------------- public

std::string DataDir() {
  const char* env = std::getenv("FLOATSCOPE_DATA");
  if (env != nullptr && *env != '\0') return env;
  return FLOATSCOPE_DEFAULT_DATA_DIR;
}

Dataset LoadDigits(const std::string& dir) {
  constexpr size_t kCount = 1797, kPixels = 64, kClasses = 10;
  const std::string x_path = CachePath(dir, "digits", "digits_x.npy");
  const std::string y_path = CachePath(dir, "digits", "digits_y.npy");
  const std::vector<float> x = ReadFeatures("digits", x_path, kCount, kPixels);
  for (size_t i = 0; i < x.size(); ++i)
    if (!(x[i] >= 0.0f && x[i] <= 1.0f))
      Fail("digits: " + Shown(x_path) + ": pixel " + std::to_string(i) + " = " + std::to_string(x[i]) +
           " is outside [0, 1] (the cache stores load_digits / 16)");
  const std::vector<int32_t> y = ReadLabels("digits", y_path, kCount, kClasses);

  Dataset d;
  d.name = "digits";
  d.example_shape = {1, 8, 8};
  d.features = kPixels;
  d.classes = kClasses;
  // Fixed split: example i (in load_digits order) is a test example when
  // i % 5 == 0 (360 examples), a training example otherwise (1437).
  for (size_t i = 0; i < kCount; ++i) {
    auto& xs = i % 5 == 0 ? d.test_x : d.train_x;
    auto& ys = i % 5 == 0 ? d.test_y : d.train_y;
    xs.insert(xs.end(), x.begin() + static_cast<ptrdiff_t>(i * kPixels),
              x.begin() + static_cast<ptrdiff_t>((i + 1) * kPixels));
    ys.push_back(y[i]);
  }
  return d;
}

Dataset LoadMnist1d(const std::string& dir) {
  constexpr size_t kLength = 40, kClasses = 10;
  Dataset d;
  d.name = "mnist1d";
  d.example_shape = {kLength};
  d.features = kLength;
  d.classes = kClasses;
  // The split is the recipe's own (the first 80% of its shuffled examples
  // train, the rest test), stored as separate files.
  const std::string train_x = CachePath(dir, "mnist1d", "mnist1d_train_x.npy");
  const std::string train_y = CachePath(dir, "mnist1d", "mnist1d_train_y.npy");
  const std::string test_x = CachePath(dir, "mnist1d", "mnist1d_test_x.npy");
  const std::string test_y = CachePath(dir, "mnist1d", "mnist1d_test_y.npy");
  d.train_x = ReadFeatures("mnist1d", train_x, 0, kLength);
  d.train_y = ReadLabels("mnist1d", train_y, d.train_x.size() / kLength, kClasses);
  d.test_x = ReadFeatures("mnist1d", test_x, 0, kLength);
  d.test_y = ReadLabels("mnist1d", test_y, d.test_x.size() / kLength, kClasses);
  return d;
}

Dataset MakeModAdd(int p) {
  if (p < 3 || p > 97 || !IsPrime(p))
    Fail("modadd: P = " + std::to_string(p) + " is not a prime number in 3..97");
  const auto n = static_cast<size_t>(p) * static_cast<size_t>(p);
  // Fixed split: pair k = a*P + b goes to train when its position in a
  // Fisher-Yates permutation of 0..P*P-1 (SplitMix64, seed kModAddSeed) is
  // below floor(P*P/2), to test otherwise: 50% train, 50% test. Each side
  // lists its pairs in increasing k.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  SplitMix64 rng{kModAddSeed};
  for (size_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.Below(i + 1)]);
  std::vector<bool> in_train(n, false);
  for (size_t pos = 0; pos < n / 2; ++pos) in_train[order[pos]] = true;

  Dataset d;
  d.name = "modadd";
  d.example_shape = {3};
  d.features = 3;
  d.classes = static_cast<size_t>(p);
  d.vocab = static_cast<size_t>(p) + 1;
  const auto eq = static_cast<float>(p);
  for (size_t k = 0; k < n; ++k) {
    const auto a = static_cast<int32_t>(k / static_cast<size_t>(p));
    const auto b = static_cast<int32_t>(k % static_cast<size_t>(p));
    auto& xs = in_train[k] ? d.train_x : d.test_x;
    auto& ys = in_train[k] ? d.train_y : d.test_y;
    xs.insert(xs.end(), {static_cast<float>(a), static_cast<float>(b), eq});
    ys.push_back((a + b) % p);
  }
  return d;
}

Dataset LoadIdx(const std::string& train_images, const std::string& train_labels, const std::string& test_images,
                const std::string& test_labels) {
  const IdxArray train = ReadIdx(train_images, 3);
  Dataset d;
  d.name = "idx";
  d.train_y = IdxLabels(train_images, train, train_labels);
  const IdxArray test = ReadIdx(test_images, 3);
  if (test.dims[1] != train.dims[1] || test.dims[2] != train.dims[2])
    Fail("idx: " + Shown(test_images) + " holds " + std::to_string(test.dims[1]) + " x " +
         std::to_string(test.dims[2]) + " images, " + Shown(train_images) + " holds " +
         std::to_string(train.dims[1]) + " x " + std::to_string(train.dims[2]));
  d.test_y = IdxLabels(test_images, test, test_labels);
  d.example_shape = {1, train.dims[1], train.dims[2]};
  d.features = train.dims[1] * train.dims[2];
  d.classes = kIdxClasses;
  d.train_x = IdxPixels(train);
  d.test_x = IdxPixels(test);
  return d;
}

Dataset LoadDataset(const std::string& name) {
  if (name == "digits") return LoadDigits(DataDir());
  if (name == "mnist1d") return LoadMnist1d(DataDir());
  if (name == "modadd") return MakeModAdd(23);
  if (name.rfind("modadd:", 0) == 0) return MakeModAdd(ParseModulus(name, name.substr(7)));
  if (name.rfind("idx:", 0) == 0) {
    std::vector<std::string> paths;
    size_t start = 4;
    for (;;) {
      const size_t comma = name.find(',', start);
      paths.push_back(name.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    bool empty = false;
    for (const auto& p : paths) empty = empty || p.empty();
    if (paths.size() != 4 || empty)
      Fail("data set '" + Shown(name) +
           "': expected idx:TRAIN_IMAGES,TRAIN_LABELS,TEST_IMAGES,TEST_LABELS (four paths separated by ',')");
    return LoadIdx(paths[0], paths[1], paths[2], paths[3]);
  }
  Fail("unknown data set '" + Shown(name) +
       "' (known: digits, mnist1d, modadd, modadd:P, idx:TRAIN_IMAGES,TRAIN_LABELS,TEST_IMAGES,TEST_LABELS)");
}

}  // namespace floatscope::train
