// C ABI of the floatscope rounding core, for callers that are not C++
// (Python through ctypes: python/floatscope/__init__.py) and for tests that
// must exercise exactly what those callers get.
//
// Codes travel in the smallest unsigned word that holds the format's
// storage bits (1, 2, 4 or 8 bytes: uint8 for FP8/FP6/FP4 and int4, uint16
// for f16/bf16, uint32 for f32, uint64 for f64), low-aligned, except tf32,
// which sits in a float32 pattern with its low 13 bits zero
// (Format::storage_shift). So float32/float64 arrays are passed as they are.
//
// Every function returns 0 on success; on failure it returns non-zero and
// writes one line saying why into err (NUL-terminated, truncated to errlen).
#pragma once

#include <stddef.h>
#include <stdint.h>

// The library is built with hidden visibility; only these are exported.
#if defined(__GNUC__)
#define FS_CAPI_EXPORT __attribute__((visibility("default")))
#else
#define FS_CAPI_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

// Properties of a format name or custom spec (formats/spec_parser.h):
// its code width in bits, the bytes of the word that stores one code, the
// shift of the code inside that word (tf32: 13), and 1 for floats, 0 for
// integers. Any output pointer may be NULL.
FS_CAPI_EXPORT int fs_format_info(const char* spec, int* bits, int* storage_bytes, int* storage_shift,
                                  int* is_float, char* err, size_t errlen);

// Converts n codes of src_spec at `in` into codes of dst_spec at `out`.
//   rounding: rne rna rtz rdn rup rto sr sr-eq (or TestFloat's names);
//             NULL or "" = the compat preset's, else rne
//   overflow: ieee saturate nan wrap; NULL or "" = the preset's / format's
//   compat:   none ml_dtypes cuda-satfinite; NULL or "" = none
//   seed, sr_bits: stochastic rounding (Philox key, 1..32 random bits)
//   first_index: element i is rounded with counter first_index + i, so a
//             big array split into pieces gives the bits of one call
//   flags_or_null: if not NULL, n bytes receiving each element's IEEE flags
//             (1 inexact, 2 underflow, 4 overflow, 8 infinite, 16 invalid)
// An input word with bits outside its format's code is an error naming the
// element. Options resolve as in the CLI: preset first, explicit on top.
FS_CAPI_EXPORT int fs_convert_array(const char* src_spec, const char* dst_spec, const char* rounding,
                                    const char* overflow, const char* compat, uint64_t seed,
                                    int sr_bits, const void* in, void* out, size_t n,
                                    uint64_t first_index, uint8_t* flags_or_null, char* err,
                                    size_t errlen);

#ifdef __cplusplus
}
#endif
