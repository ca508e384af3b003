// libFuzzer target: the .npy reader (emulate/npy.h), through a file
// (memfd) as the CLI reads one, and ParseHeader on the bytes.
// Property: only NpyError comes out, one line; what is returned has
// exactly the bytes its shape needs.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "emulate/npy.h"

using namespace floatscope::npy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const int fd = memfd_create("fuzz_npy", 0);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (fd < 0) std::abort();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const Header h = ParseHeader(bytes, "bytes");
    if (h.data_offset > size) std::abort();
  } catch (const NpyError& e) {
    if (std::string_view(e.what()).find('\n') != std::string_view::npos) std::abort();
  }
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) std::abort();
  try {
    const RawArray a = ReadRawArray(path);
    if (a.data.size() != ElementCount(a.header.shape) * ItemSize(a.header.dtype)) std::abort();
    if (a.header.data_offset + a.data.size() != size) std::abort();
    const FloatArray f = ReadFloatArray(path);
    if (f.values.size() != ElementCount(f.shape)) std::abort();
  } catch (const NpyError& e) {
    if (std::string_view(e.what()).find('\n') != std::string_view::npos) std::abort();
  }
  return 0;
}
