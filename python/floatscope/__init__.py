"""floatscope for numpy: bit-exact format conversions through the C++ core.

    import numpy as np, floatscope
    floatscope.convert(np.float32([1.0625, 300.0]), "e4m3fn")      # -> uint8 codes
    floatscope.convert(codes, "f32", src="e4m3fn")                   # -> float32 values
    floatscope.convert(x64, "bf16", src="f64", rounding="rtz")       # one rounding, no float32 detour

Codes are stored in the smallest unsigned word that holds the format's
storage bits (uint8 for FP8/FP6/FP4 and int4, uint16 for f16/bf16), tf32 as
its float32 pattern. Results come back as float64 / float32 / float16 arrays
for f64 / f32 and tf32 / f16, and as unsigned code words for every other
format. The library is libfloatscope_capi.so (python/floatscope_capi.cc),
found through the environment variable FLOATSCOPE_CAPI or, failing that, in
the usual build folders of the repository.
"""
from __future__ import annotations

import ctypes
import os
import pathlib
from typing import NamedTuple

import numpy as np

__all__ = ["FloatscopeError", "FormatInfo", "convert", "format_info", "library_path"]

_LIB_NAME = "libfloatscope_capi.so"
_WORDS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
# Formats whose codes are IEEE values numpy already has a dtype for.
_FLOAT_VIEWS = {"f64": np.float64, "f32": np.float32, "tf32": np.float32, "f16": np.float16}
_ERRLEN = 512


class FloatscopeError(ValueError):
    """Bad format, option or input, with the core's one-line reason."""


class FormatInfo(NamedTuple):
    bits: int            # width of one code
    storage_bytes: int   # bytes of the word holding one code
    storage_shift: int   # position of the code in its word (tf32: 13)
    is_float: bool
    word: type           # numpy unsigned dtype of the word


def _candidates():
    env = os.environ.get("FLOATSCOPE_CAPI")
    if env:
        return [pathlib.Path(env)]
    here = pathlib.Path(__file__).resolve().parent
    repo = here.parent.parent
    found = [here / _LIB_NAME]
    # Any meson build folder of the repo (build/, build-*/): newest first,
    # so a fresh rebuild wins over a stale one.
    built = []
    for build in repo.glob("build*"):
        for sub in ("python", "tests/peers"):
            lib = build / sub / _LIB_NAME
            if lib.is_file():
                built.append(lib)
    built.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return found + built


def library_path() -> pathlib.Path:
    """The shared library convert() uses (FLOATSCOPE_CAPI, else a build folder)."""
    tried = _candidates()
    for lib in tried:
        if lib.is_file():
            return lib
    raise FloatscopeError(
        f"{_LIB_NAME} not found (tried {', '.join(map(str, tried))}); build it with "
        "`ninja -C build` or point FLOATSCOPE_CAPI at it")


_lib = None


def _load():
    global _lib
    if _lib is None:
        lib = ctypes.CDLL(str(library_path()))
        lib.fs_format_info.argtypes = [
            ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int),
            ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int), ctypes.c_char_p,
            ctypes.c_size_t]
        lib.fs_format_info.restype = ctypes.c_int
        lib.fs_convert_array.argtypes = [
            ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
            ctypes.c_uint64, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
            ctypes.c_uint64, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        lib.fs_convert_array.restype = ctypes.c_int
        _lib = lib
    return _lib


def _bytes(s):
    return None if s is None else str(s).encode()


def format_info(spec: str) -> FormatInfo:
    """Width and storage of a format name or custom spec ("e5m6", "int2")."""
    lib = _load()
    bits, nbytes, shift, is_float = (ctypes.c_int() for _ in range(4))
    err = ctypes.create_string_buffer(_ERRLEN)
    if lib.fs_format_info(_bytes(spec), ctypes.byref(bits), ctypes.byref(nbytes),
                          ctypes.byref(shift), ctypes.byref(is_float), err, _ERRLEN):
        raise FloatscopeError(err.value.decode())
    return FormatInfo(bits.value, nbytes.value, shift.value, bool(is_float.value),
                      _WORDS[nbytes.value])


def convert(x, dst: str, src: str = "f32", rounding: str | None = None,
            overflow: str | None = None, compat: str | None = None, seed: int = 0,
            sr_bits: int = 32, first_index: int = 0, return_flags: bool = False):
    """Rounds the codes of `src` in `x` into format `dst`, element by element.

    x: an array whose items are words of src's storage width: float32 for
       "f32", float64 for "f64", uint8 (or an ml_dtypes 8-bit array) for FP8,
       ... Items of another width are refused rather than silently rounded.
    rounding: rne rna rtz rdn rup rto sr sr-eq; None = the compat preset's
       choice, else rne. overflow: ieee saturate nan wrap; None = default.
    compat: None, "ml_dtypes" or "cuda-satfinite" (formats/compat.h); explicit
       rounding/overflow override the preset, as in the CLI.
    seed, sr_bits, first_index: stochastic rounding; element i draws its bits
       from Philox(seed, first_index + i), so pieces of an array converted
       with their offsets give the bits of one call.
    Returns the converted array (same shape), and with return_flags=True also
    a uint8 array of IEEE flags (1 inexact, 2 underflow, 4 overflow,
    8 infinite, 16 invalid).
    """
    src_info = format_info(src)
    dst_info = format_info(dst)
    a = np.asarray(x)
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    if a.dtype.itemsize != src_info.storage_bytes:
        raise FloatscopeError(
            f"x has dtype {a.dtype} ({a.dtype.itemsize}-byte items) but {src} codes are "
            f"{src_info.storage_bytes}-byte words; pass an array of that width "
            "(or name the matching src, e.g. src='f64' for float64)")
    words = a.view(src_info.word)
    out = np.empty(a.shape, dtype=dst_info.word)
    flags = np.empty(a.shape, dtype=np.uint8) if return_flags else None
    err = ctypes.create_string_buffer(_ERRLEN)
    rc = _load().fs_convert_array(
        _bytes(src), _bytes(dst), _bytes(rounding), _bytes(overflow), _bytes(compat),
        int(seed), int(sr_bits), words.ctypes.data, out.ctypes.data, words.size,
        int(first_index), None if flags is None else flags.ctypes.data, err, _ERRLEN)
    if rc:
        raise FloatscopeError(err.value.decode())
    view = _FLOAT_VIEWS.get(dst)
    result = out.view(view) if view is not None else out
    return (result, flags) if return_flags else result
