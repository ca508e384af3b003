// emulate/npy: round trips through every supported header version, and one
// clear error for each kind of bad file.
#include <doctest/doctest.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "emulate/npy.h"

using namespace floatscope::npy;

namespace {

std::string TempDir() {
  static std::string dir = [] {
    char tmpl[] = "/tmp/floatscope_npy_testXXXXXX";
    const char* d = mkdtemp(tmpl);
    REQUIRE(d != nullptr);
    return std::string(d);
  }();
  return dir;
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A file with the given version, header dict and raw data, built by hand.
std::string Npy(int major, const std::string& dict, const std::string& data) {
  std::string h = dict + "\n";
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  const size_t len = h.size();
  const int len_bytes = major == 1 ? 2 : 4;
  for (int i = 0; i < len_bytes; ++i) out += static_cast<char>((len >> (8 * i)) & 0xFF);
  return out + h + data;
}

std::string F32Bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

std::string ErrorOf(const std::string& bytes) {
  const std::string path = TempDir() + "/bad.npy";
  WriteBytes(path, bytes);
  try {
    ReadFloatArray(path);
  } catch (const NpyError& e) {
    return e.what();
  }
  return "";
}

std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.' || std::strlen(e->d_name) > 2) names.emplace_back(e->d_name);
  closedir(d);
  return names;
}

}  // namespace

TEST_CASE("npy: float32 round trip keeps bits and shape, for 0-d to 3-d arrays") {
  const std::vector<std::vector<size_t>> shapes = {{}, {5}, {2, 3}, {2, 3, 4}, {0, 3}};
  for (const auto& shape : shapes) {
    const size_t n = ElementCount(shape);
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i) * -0.37f + 1e-40f;  // subnormal offsets too
    const std::string path = TempDir() + "/rt.npy";
    WriteArray(path, Dtype::kFloat32, shape, v.data());
    const FloatArray a = ReadFloatArray(path);
    CHECK(a.dtype == Dtype::kFloat32);
    CHECK(a.shape == shape);
    REQUIRE(a.values.size() == n);
    for (size_t i = 0; i < n; ++i) CHECK(a.values[i] == static_cast<double>(v[i]));
  }
}

TEST_CASE("npy: versions 1.0, 2.0 and 3.0 headers, float64, keys in any order") {
  const std::vector<double> d = {1.5, -0.1, 1e300};
  const std::string data(reinterpret_cast<const char*>(d.data()), 24);
  for (int major : {1, 2, 3}) {
    const std::string path = TempDir() + "/v.npy";
    WriteBytes(path, Npy(major, "{'shape': (3,), 'fortran_order': False, 'descr': '<f8'}", data));
    const FloatArray a = ReadFloatArray(path);
    CHECK(a.dtype == Dtype::kFloat64);
    CHECK(a.shape == std::vector<size_t>{3});
    CHECK(a.values == d);
  }
}

TEST_CASE("npy: the writer's header is what numpy writes (64-byte aligned, '\\n' ended)") {
  const std::string path = TempDir() + "/h.npy";
  const uint16_t v[6] = {1, 2, 3, 4, 5, 65535};
  WriteArray(path, Dtype::kUint16, {2, 3}, v);
  std::ifstream f(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const Header h = ParseHeader(bytes, path);
  CHECK(h.data_offset % 64 == 0);
  CHECK(bytes[h.data_offset - 1] == '\n');
  CHECK(bytes.find("{'descr': '<u2', 'fortran_order': False, 'shape': (2, 3), }") != std::string::npos);
  CHECK(bytes.size() == h.data_offset + 12);
  CHECK(std::memcmp(bytes.data() + h.data_offset, v, 12) == 0);
}

TEST_CASE("npy: one clear error per kind of bad file") {
  const std::string ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  const std::string two = F32Bytes({1.0f, 2.0f});
  CHECK(ErrorOf("hello world, not numpy").find("bad magic") != std::string::npos);
  CHECK(ErrorOf("").find("bad magic") != std::string::npos);
  CHECK(ErrorOf(Npy(1, ok_dict, two).substr(0, 12)).find("truncated .npy header") != std::string::npos);
  CHECK(ErrorOf(Npy(4, ok_dict, two)).find("unsupported .npy format version 4.0") != std::string::npos);
  CHECK(ErrorOf(Npy(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", two))
            .find("dtype '<i4' is not supported") != std::string::npos);
  CHECK(ErrorOf(Npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (8,), }", two))
            .find("dtype '|u1' is not supported") != std::string::npos);
  CHECK(ErrorOf(Npy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", two))
            .find("big-endian") != std::string::npos);
  CHECK(ErrorOf(Npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", two))
            .find("Fortran-order arrays are not supported") != std::string::npos);
  const std::string truncated = ErrorOf(Npy(1, ok_dict, two.substr(0, 7)));
  CHECK(truncated.find("truncated data: shape (2,) of <f4 needs 8 bytes, the file has 7") != std::string::npos);
  CHECK(ErrorOf(Npy(1, ok_dict, two + "x")).find("1 bytes after the data") != std::string::npos);
  CHECK(ErrorOf(Npy(1, "{'descr': '<f4', 'shape': (2,), }", two)).find("needs the keys") != std::string::npos);
  CHECK(ErrorOf(Npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,-1), }", two))
            .find("malformed .npy header") != std::string::npos);
  CHECK(ErrorOf(Npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", two))
            .find("malformed .npy header") != std::string::npos);
  CHECK(ErrorOf(Npy(1, "['descr']", two)).find("malformed .npy header") != std::string::npos);
  // Each message is one line that starts with the file name.
  const std::string e = ErrorOf("nope");
  CHECK(e.rfind(TempDir() + "/bad.npy: ", 0) == 0);
  CHECK(e.find('\n') == std::string::npos);
  try {
    ReadFloatArray(TempDir() + "/missing.npy");
    FAIL("no error for a missing file");
  } catch (const NpyError& err) {
    CHECK(std::string(err.what()).find("cannot open") != std::string::npos);
  }
}

TEST_CASE("npy: writes are atomic: no temporary left behind, the old file survives a failed write") {
  const std::string dir = TempDir() + "/atomic";
  REQUIRE(mkdir(dir.c_str(), 0755) == 0);
  const float a[2] = {1, 2}, b[3] = {3, 4, 5};
  WriteArray(dir + "/out.npy", Dtype::kFloat32, {2}, a);
  WriteArray(dir + "/out.npy", Dtype::kFloat32, {3}, b);  // replaces it
  CHECK(FilesIn(dir) == std::vector<std::string>{"out.npy"});
  CHECK(ReadFloatArray(dir + "/out.npy").values == std::vector<double>{3, 4, 5});
  // A target that is a directory cannot be replaced: the error names it and
  // nothing else appears.
  REQUIRE(mkdir((dir + "/sub.npy").c_str(), 0755) == 0);
  CHECK_THROWS_WITH_AS(WriteArray(dir + "/sub.npy", Dtype::kFloat32, {2}, a), doctest::Contains("is a directory"),
                       NpyError);
  CHECK_THROWS_WITH_AS(WriteArray(dir + "/no/such/dir/x.npy", Dtype::kFloat32, {2}, a),
                       doctest::Contains("cannot create a temporary file"), NpyError);
  auto names = FilesIn(dir);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"out.npy", "sub.npy"});
}

TEST_CASE("npy: reading goes header first and reads only what the header declares") {
  const std::string dir = TempDir() + "/headfirst";
  REQUIRE(mkdir(dir.c_str(), 0755) == 0);
  // A directory names itself as such (it used to be "read error").
  CHECK_THROWS_WITH_AS(ReadFloatArray(dir), doctest::Contains("is a directory"), NpyError);
  // /dev/zero: the magic is wrong after 12 bytes; nothing more is read.
  CHECK_THROWS_WITH_AS(ReadFloatArray("/dev/zero"), doctest::Contains("bad magic"), NpyError);
  // A version 2.0 length field claiming 4 GiB.
  std::string huge = "\x93NUMPY";
  huge += '\x02';
  huge += '\0';
  huge += std::string("\xf0\xff\xff\xff{", 5);
  WriteBytes(dir + "/huge.npy", huge);
  CHECK_THROWS_WITH_AS(ReadFloatArray(dir + "/huge.npy"), doctest::Contains("more than the 1048576"), NpyError);
  // A terabyte declared, 8 bytes present: "truncated", from the file size.
  WriteBytes(dir + "/tb.npy", Npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (250000000000,), }",
                                  F32Bytes({1, 2})));
  CHECK_THROWS_WITH_AS(ReadFloatArray(dir + "/tb.npy"), doctest::Contains("needs 1000000000000 bytes, the file has 8"),
                       NpyError);
  // An empty float64 array (found by tests/fuzz/fuzz_npy.cc under UBSan:
  // memcpy from an empty vector's null data()).
  WriteBytes(dir + "/empty.npy", Npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 3), }", ""));
  const FloatArray empty = ReadFloatArray(dir + "/empty.npy");
  CHECK(empty.values.empty());
  CHECK(empty.shape == std::vector<size_t>{0, 3});
  // ReadRawArray: any of the four dtypes; the caller's words for others.
  const uint8_t codes[3] = {1, 2, 3};
  WriteArray(dir + "/u8.npy", Dtype::kUint8, {3}, codes);
  const RawArray raw = ReadRawArray(dir + "/u8.npy");
  CHECK(raw.header.dtype == Dtype::kUint8);
  CHECK(raw.data == std::string("\x01\x02\x03", 3));
  WriteBytes(dir + "/i1.npy", Npy(1, "{'descr': '|i1', 'fortran_order': False, 'shape': (2,), }", "ab"));
  CHECK_THROWS_WITH_AS(ReadRawArray(dir + "/i1.npy", "codes as uint8"),
                       doctest::Contains("dtype '|i1' is not supported; need codes as uint8"), NpyError);
}

namespace {

bool IsSymlink(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

}  // namespace

TEST_CASE("npy: outputs follow symlinks, write through to devices, keep permissions") {
  const std::string dir = TempDir() + "/targets";
  REQUIRE(mkdir(dir.c_str(), 0755) == 0);
  const float a[2] = {1, 2};
  // A relative symlink: the file it names is replaced, the link stays.
  WriteArray(dir + "/real.npy", Dtype::kFloat32, {1}, a);
  REQUIRE(symlink("real.npy", (dir + "/link.npy").c_str()) == 0);
  WriteArray(dir + "/link.npy", Dtype::kFloat32, {2}, a);
  CHECK(IsSymlink(dir + "/link.npy"));
  CHECK(ReadFloatArray(dir + "/real.npy").values == std::vector<double>{1, 2});
  // A dangling one creates its target.
  REQUIRE(symlink("new.npy", (dir + "/dangling.npy").c_str()) == 0);
  WriteArray(dir + "/dangling.npy", Dtype::kFloat32, {2}, a);
  CHECK(ReadFloatArray(dir + "/new.npy").values == std::vector<double>{1, 2});
  // Through a link to /dev/null: written directly, nothing replaced.
  REQUIRE(symlink("/dev/null", (dir + "/null.npy").c_str()) == 0);
  WriteArray(dir + "/null.npy", Dtype::kFloat32, {2}, a);
  CHECK(IsSymlink(dir + "/null.npy"));
  struct stat st {};
  REQUIRE(stat("/dev/null", &st) == 0);
  CHECK(S_ISCHR(st.st_mode));
  REQUIRE(symlink("/dev/full", (dir + "/full.npy").c_str()) == 0);
  CHECK_THROWS_WITH_AS(WriteArray(dir + "/full.npy", Dtype::kFloat32, {2}, a), doctest::Contains("No space left"),
                       NpyError);
  // A loop.
  REQUIRE(symlink("loop2.npy", (dir + "/loop1.npy").c_str()) == 0);
  REQUIRE(symlink("loop1.npy", (dir + "/loop2.npy").c_str()) == 0);
  CHECK_THROWS_WITH_AS(WriteArray(dir + "/loop1.npy", Dtype::kFloat32, {2}, a),
                       doctest::Contains("too many levels of symbolic links"), NpyError);
  // Permission bits survive a rewrite.
  REQUIRE(chmod((dir + "/real.npy").c_str(), 0604) == 0);
  WriteArray(dir + "/real.npy", Dtype::kFloat32, {1}, a);
  REQUIRE(stat((dir + "/real.npy").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0604);
  auto names = FilesIn(dir);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"dangling.npy", "full.npy", "link.npy", "loop1.npy", "loop2.npy",
                                          "new.npy", "null.npy", "real.npy"});
}

TEST_CASE("npy: OutputFiles appear together: nothing, or all; a failed rename takes the earlier ones back") {
  const std::string dir = TempDir() + "/sets";
  REQUIRE(mkdir(dir.c_str(), 0755) == 0);
  const float a[2] = {1, 2}, b[3] = {3, 4, 5};
  {
    OutputFiles set;
    set.AddArray(dir + "/s.npy", Dtype::kFloat32, {2}, a);
    set.AddArray(dir + "/m.npy", Dtype::kFloat32, {3}, b);
    CHECK(FilesIn(dir).size() == 2);  // two temporaries, no target yet
  }  // not committed: the temporaries go
  CHECK(FilesIn(dir).empty());
  {
    OutputFiles set;
    set.AddArray(dir + "/s.npy", Dtype::kFloat32, {2}, a);
    set.AddArray(dir + "/m.npy", Dtype::kFloat32, {3}, b);
    set.Commit();
  }
  auto names = FilesIn(dir);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"m.npy", "s.npy"});
  // The second rename fails (its target became a directory after Add): the
  // first file, already renamed, is removed again.
  REQUIRE(unlink((dir + "/m.npy").c_str()) == 0);
  {
    OutputFiles set;
    set.AddArray(dir + "/s.npy", Dtype::kFloat32, {3}, b);
    set.AddArray(dir + "/m.npy", Dtype::kFloat32, {2}, a);
    REQUIRE(mkdir((dir + "/m.npy").c_str(), 0755) == 0);
    const std::string removed = "removed " + dir + "/s.npy";
    CHECK_THROWS_WITH_AS(set.Commit(), doctest::Contains(removed.c_str()), NpyError);
  }
  CHECK(FilesIn(dir) == std::vector<std::string>{"m.npy"});
  // Two names for one file.
  REQUIRE(symlink("m2.npy", (dir + "/alias.npy").c_str()) == 0);
  OutputFiles set;
  set.AddArray(dir + "/m2.npy", Dtype::kFloat32, {2}, a);
  CHECK_THROWS_WITH_AS(set.AddArray(dir + "/alias.npy", Dtype::kFloat32, {2}, a), doctest::Contains("same file"),
                       NpyError);
}
