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
//
// Writing is atomic: the array goes to a temporary file in the target's
// directory which is renamed over the target only once it is complete, so a
// reader never sees half a file and a failed write leaves the old file.
#pragma once

#include <cstddef>
#include <cstdint>
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

// Parses the magic, version and header at the start of `bytes` (the whole
// file or at least its header): any of the four dtypes above, little-endian,
// C order. Throws NpyError("<name>: ...") on anything else.
Header ParseHeader(std::string_view bytes, std::string_view name);

// A float array read from a file, widened exactly to float64. Only float32
// and float64 files are accepted.
struct FloatArray {
  Dtype dtype = Dtype::kFloat32;  // what the file held (kFloat32 or kFloat64)
  std::vector<size_t> shape;
  std::vector<double> values;  // C order
};

FloatArray ReadFloatArray(const std::string& path);

// Writes `data` (ElementCount(shape) items of `dtype`, C order) to `path`,
// format version 1.0 (2.0 if the header would not fit 1.0), atomically.
void WriteArray(const std::string& path, Dtype dtype, const std::vector<size_t>& shape,
                const void* data);

}  // namespace floatscope::npy
