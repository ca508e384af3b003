// emulate/npy: round trips through every supported header version, and one
// clear error for each kind of bad file.
#include <doctest/doctest.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
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

TEST_CASE("npy: MapArray maps a regular file in place and reads anything else, with ReadRawArray's checks") {
  const std::string dir = TempDir() + "/map";
  REQUIRE(mkdir(dir.c_str(), 0755) == 0);
  std::vector<float> v(1000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * 0.25f - 7.0f;
  WriteArray(dir + "/a.npy", Dtype::kFloat32, {10, 100}, v.data());
  ArrayData m = MapArray(dir + "/a.npy");
  CHECK(m.mapped());
  CHECK(m.header().shape == std::vector<size_t>{10, 100});
  REQUIRE(m.bytes() == 4000);
  CHECK(reinterpret_cast<uintptr_t>(m.data()) % 4 == 0);
  CHECK(std::memcmp(m.data(), v.data(), 4000) == 0);
  ArrayData moved = std::move(m);  // the mapping moves along
  CHECK(!m.mapped());
  CHECK(std::memcmp(moved.data(), v.data(), 4000) == 0);
  // Data at an offset that is not a multiple of the item size: read, not mapped.
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
  WriteBytes(dir + "/odd.npy", Npy(1, dict + " ", F32Bytes({1, 2, 3})));
  const ArrayData odd = MapArray(dir + "/odd.npy");
  CHECK(!odd.mapped());
  REQUIRE(odd.bytes() == 12);
  CHECK(static_cast<const float*>(odd.data())[2] == 3.0f);
  // A pipe is read.
  const ArrayData piped = [&] {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const std::string bytes = Npy(1, dict, F32Bytes({4, 5, 6}));
    REQUIRE(write(fds[1], bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    close(fds[1]);
    ArrayData a = MapArray("/dev/fd/" + std::to_string(fds[0]));
    close(fds[0]);
    return a;
  }();
  CHECK(!piped.mapped());
  CHECK(static_cast<const float*>(piped.data())[0] == 4.0f);
  // The same one-line errors as ReadRawArray.
  WriteBytes(dir + "/short.npy", Npy(1, dict, F32Bytes({1, 2})));
  CHECK_THROWS_WITH_AS(MapArray(dir + "/short.npy"), doctest::Contains("truncated data"), NpyError);
  WriteBytes(dir + "/long.npy", Npy(1, dict, F32Bytes({1, 2, 3, 4})));
  CHECK_THROWS_WITH_AS(MapArray(dir + "/long.npy"), doctest::Contains("bytes after the data"), NpyError);
  CHECK_THROWS_WITH_AS(MapArray(dir), doctest::Contains("is a directory"), NpyError);
  // Empty data: nothing to map.
  WriteArray(dir + "/empty.npy", Dtype::kFloat32, {0, 3}, nullptr);
  CHECK(MapArray(dir + "/empty.npy").bytes() == 0);
}

TEST_CASE("npy: a mapped input truncated by another program ends the process with one line, status 2") {
  const std::string dir = TempDir() + "/sigbus";
  REQUIRE(mkdir(dir.c_str(), 0755) == 0);
  std::vector<float> v(100000, 1.5f);
  WriteArray(dir + "/a.npy", Dtype::kFloat32, {v.size()}, v.data());
  int err[2];
  REQUIRE(pipe(err) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(err[1], 2);
    OutputFiles out;  // a temporary the handler must remove
    out.StartArray(dir + "/y.npy", Dtype::kFloat32, {1});
    const ArrayData m = MapArray(dir + "/a.npy");
    if (truncate((dir + "/a.npy").c_str(), 0) != 0) _exit(5);
    volatile float sum = 0;
    const auto* p = static_cast<const float*>(m.data());
    for (size_t i = 0; i < v.size(); i += 1024) sum = sum + p[i];
    _exit(6);  // not reached: the pages are gone
  }
  close(err[1]);
  std::string text;
  char buf[512];
  for (ssize_t r; (r = read(err[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(r));
  close(err[0]);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 2);
  CHECK(text.find("a.npy: the file was truncated while it was read") != std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);
  CHECK(FilesIn(dir) == std::vector<std::string>{"a.npy"});  // no temporary left
}

TEST_CASE("npy: StartArray streams pieces from several threads and is renamed after the added files") {
  const std::string dir = TempDir() + "/stream";
  REQUIRE(mkdir(dir.c_str(), 0755) == 0);
  std::vector<float> v(100000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  const float s[2] = {7, 8};
  {
    OutputFiles out;
    const size_t h = out.StartArray(dir + "/m.npy", Dtype::kFloat32, {100, 1000});
    // Pieces in any order, from two threads.
    std::thread t([&] {
      for (size_t b = 50000; b < v.size(); b += 7000)
        out.Write(h, b * 4, v.data() + b, std::min<size_t>(7000, v.size() - b) * 4);
    });
    for (size_t b = 0; b < 50000; b += 5000) out.Write(h, b * 4, v.data() + b, 5000 * 4);
    t.join();
    out.FinishArray(h);
    out.AddArray(dir + "/m.scales.npy", Dtype::kFloat32, {2}, s);
    CHECK(FilesIn(dir).size() == 2);  // the two temporaries
    out.Commit();
  }
  auto names = FilesIn(dir);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"m.npy", "m.scales.npy"});
  const FloatArray m = ReadFloatArray(dir + "/m.npy");
  CHECK(m.shape == std::vector<size_t>{100, 1000});
  CHECK(m.values == std::vector<double>(v.begin(), v.end()));
  CHECK(ReadFloatArray(dir + "/m.scales.npy").values == std::vector<double>{7, 8});
  // Not committed (an error before the end): nothing appears; the old file stays.
  {
    OutputFiles out;
    const size_t h = out.StartArray(dir + "/m.npy", Dtype::kFloat32, {2});
    out.Write(h, 0, s, 8);
    CHECK_THROWS_WITH_AS(out.Commit(), doctest::Contains("before FinishArray"), NpyError);
  }
  names = FilesIn(dir);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"m.npy", "m.scales.npy"});
  CHECK(ReadFloatArray(dir + "/m.npy").values.size() == 100000);
  // A piece beyond the data is a write error, reported by FinishArray.
  {
    OutputFiles out;
    const size_t h = out.StartArray(dir + "/n.npy", Dtype::kFloat32, {2});
    out.Write(h, 4, s, 8);
    CHECK_THROWS_WITH_AS(out.FinishArray(h), doctest::Contains("cannot write"), NpyError);
  }
  CHECK(FilesIn(dir).size() == 2);
  // To a device: kept in memory, written by Commit.
  OutputFiles dev;
  const size_t h = dev.StartArray("/dev/null", Dtype::kFloat32, {2});
  dev.Write(h, 0, s, 8);
  dev.FinishArray(h);
  dev.Commit();
}
