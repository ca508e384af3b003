"""pytest setup for the peer tests: the floatscope package lives in python/.

The shared library comes from FLOATSCOPE_CAPI, which meson test sets; run
by hand as
    FLOATSCOPE_CAPI=build/tests/peers/libfloatscope_capi.so .venv/bin/python -m pytest tests/peers
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "python"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
