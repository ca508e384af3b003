"""Hostile but realistic input (issue 14): no crash, no wrap-around, no lost
or half-written output.

Each section is one defect of the issue, numbered as there. Every bad input
must end in exactly one line on stderr ("floatscope: ...") and exit status
2: never a signal, a C++ library message, a silently wrapped number or a
half-replaced set of files.

Nothing here writes to /dev/null or /dev/full by name before the binary has
shown (through a symlink in a temporary folder) that it writes through to
character devices: the binaries this file was written against replaced the
device node with a regular file when run as root.
"""
import os
import resource
import signal
import stat
import subprocess
import threading
import time

import numpy as np
import pytest

FLOATSCOPE = os.environ.get("FLOATSCOPE")
if not FLOATSCOPE or not os.access(FLOATSCOPE, os.X_OK):
    raise RuntimeError("set FLOATSCOPE to the floatscope binary (meson test does this)")

U64_MAX = 2**64 - 1


def run(*args, stdin=b"", stdout=subprocess.PIPE, timeout=60, limit_as=None):
    """Runs floatscope; `limit_as` caps its address space (bytes)."""
    data = stdin.encode() if isinstance(stdin, str) else stdin

    def cap():
        if limit_as:
            resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))

    return subprocess.run([FLOATSCOPE, *map(str, args)], input=data, stdout=stdout, stderr=subprocess.PIPE,
                          timeout=timeout, preexec_fn=cap)


def fails(*args, names=(), **kw):
    """Must fail with exit 2 and one 'floatscope: ' line naming every string in `names`."""
    p = run(*args, **kw)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 2, f"exit {p.returncode}, stderr {err!r}"
    assert err.endswith("\n") and err.count("\n") == 1, f"not exactly one line: {err!r}"
    assert err.startswith("floatscope: "), err
    for n in names:
        assert n.lower() in err.lower(), f"{n!r} not named in {err!r}"
    return err.rstrip("\n")


def ok(*args, **kw):
    p = run(*args, **kw)
    assert p.returncode == 0, f"exit {p.returncode}: {p.stderr.decode(errors='replace')}"
    return p.stdout.decode()


def tensor(shape=(2, 3, 32), seed=1):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 4).astype(np.float32)


@pytest.fixture
def x_npy(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, tensor())
    return path


def leftovers(folder):
    """Hidden temporaries the writer may leave: '.NAME.tmpXXXXXX'."""
    return sorted(n for n in os.listdir(folder) if n.startswith(".") and ".tmp" in n)


# ---------------------------------------------------------------------------
# 1. integer options: range-checked, never wrapped, never a crash
# ---------------------------------------------------------------------------

BAD_INTEGERS = [
    # option, scheme args, bad value
    ("--group", ["--format", "int8", "--scheme", "group"], "-1"),
    ("--group", ["--format", "int8", "--scheme", "group"], "0"),
    ("--group", ["--format", "int8", "--scheme", "group"], str(2**64)),
    ("--block", ["--format", "e4m3fn", "--scheme", "mx"], "-32"),
    ("--block", ["--format", "e4m3fn", "--scheme", "mx"], "32.5"),
    ("--block", ["--format", "e4m3fn", "--scheme", "mx"], "0x20"),
    ("--block", ["--format", "e4m3fn", "--scheme", "mx"], ""),
    ("--history", ["--format", "e4m3fn", "--scheme", "delayed"], "-1"),
    ("--history", ["--format", "e4m3fn", "--scheme", "delayed"], "0"),
    ("--axis", ["--format", "int8", "--scheme", "channel"], str(2**63)),
    ("--axis", ["--format", "int8", "--scheme", "channel"], "1e3"),
    ("--margin", ["--format", "e4m3fn"], "65"),
    ("--margin", ["--format", "e4m3fn"], str(2**40)),
    ("--threads", ["--format", "e4m3fn"], "-1"),
    ("--threads", ["--format", "e4m3fn"], "4294967297"),
    ("--sr-bits", ["--format", "e4m3fn", "--round", "sr"], "-1"),
    ("--sr-bits", ["--format", "e4m3fn", "--round", "sr"], "4294967297"),
]


@pytest.mark.parametrize("option, args, value", BAD_INTEGERS,
                         ids=[f"{o}={v}" for o, _, v in BAD_INTEGERS])
def test_1_quantize_integer_options_are_range_checked(tmp_path, x_npy, option, args, value):
    fails("quantize", *args, option, value, "--in", x_npy, "--out", tmp_path / "y.npy", names=[option])
    assert not (tmp_path / "y.npy").exists()


@pytest.mark.parametrize("scheme, option, small", [("mx", "--block", 32), ("group", "--group", 32)])
def test_1_sizes_beyond_the_axis_mean_one_unit_per_row(tmp_path, x_npy, scheme, option, small):
    """A block/group longer than the axis (32 here) is one unit per row, up to
    2^64 - 1: (len + size - 1) / size must not wrap."""
    fmt = "e4m3fn" if scheme == "mx" else "int8"
    want = tmp_path / "want.npy"
    ok("quantize", "--format", fmt, "--scheme", scheme, option, small, "--in", x_npy, "--out", want, "--codes")
    for big in [33, 2**64 - 31, U64_MAX]:
        got = tmp_path / f"got{big}.npy"
        ok("quantize", "--format", fmt, "--scheme", scheme, option, big, "--in", x_npy, "--out", got, "--codes")
        assert np.array_equal(np.load(got), np.load(want))
        assert np.array_equal(np.load(tmp_path / f"got{big}.scales.npy"), np.load(tmp_path / "want.scales.npy"))


OTHER_BAD_INTEGERS = [
    ["verify", "f16_to_f32", "--max-report", "-1"],
    ["verify", "f16_to_f32", "--max-report", str(2**31)],
    ["eval", "f16_to_f32", "--round", "sr", "--sr-bits", "99999999999999999999"],
    ["gpu-verify", "--exhaustive", "--threads", "-1"],
    ["gpu-verify", "--exhaustive", "--max-report", "-5"],
]


@pytest.mark.parametrize("args", OTHER_BAD_INTEGERS, ids=[" ".join(a[2:]) for a in OTHER_BAD_INTEGERS])
def test_1_other_integer_options_are_range_checked(args):
    fails(*args, stdin="3c00 3f800000 00\n", names=[args[-2]])


# ---------------------------------------------------------------------------
# 2. outputs: write through to devices and FIFOs, follow symlinks
# ---------------------------------------------------------------------------

def quantize_to(x_npy, out, *extra, **kw):
    return run("quantize", "--format", "e4m3fn", "--in", x_npy, "--out", out, *extra, **kw)


def test_2_symlink_to_dev_null_writes_through(tmp_path, x_npy):
    link = tmp_path / "sink.npy"
    link.symlink_to("/dev/null")
    p = quantize_to(x_npy, link)
    assert p.returncode == 0, p.stderr
    assert link.is_symlink() and os.readlink(link) == "/dev/null"
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert leftovers(tmp_path) == []


def test_2_dev_null_by_name(tmp_path, x_npy):
    test_2_symlink_to_dev_null_writes_through(tmp_path, x_npy)  # guard: never replace /dev/null itself
    p = quantize_to(x_npy, "/dev/null")
    assert p.returncode == 0, p.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_2_dev_full_reports_the_write_error(tmp_path, x_npy):
    link = tmp_path / "full.npy"
    link.symlink_to("/dev/full")
    fails("quantize", "--format", "e4m3fn", "--in", x_npy, "--out", link, names=["full.npy", "no space"])
    assert link.is_symlink() and stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_2_symlink_is_followed_rename_over_its_target(tmp_path, x_npy):
    (tmp_path / "data").mkdir()
    target = tmp_path / "data" / "real.npy"
    np.save(target, np.zeros(3, np.float32))
    link = tmp_path / "link.npy"
    link.symlink_to("data/real.npy")  # relative: resolved from the link's folder
    p = quantize_to(x_npy, link)
    assert p.returncode == 0, p.stderr
    assert link.is_symlink() and os.readlink(link) == "data/real.npy"
    assert np.load(target).shape == (2, 3, 32)
    assert leftovers(tmp_path) == [] and leftovers(tmp_path / "data") == []


def test_2_dangling_symlink_creates_its_target(tmp_path, x_npy):
    link = tmp_path / "link.npy"
    link.symlink_to(tmp_path / "new.npy")
    assert quantize_to(x_npy, link).returncode == 0
    assert link.is_symlink() and np.load(tmp_path / "new.npy").shape == (2, 3, 32)


def test_2_symlink_loop_is_one_error(tmp_path, x_npy):
    (tmp_path / "a.npy").symlink_to("b.npy")
    (tmp_path / "b.npy").symlink_to("a.npy")
    fails("quantize", "--format", "e4m3fn", "--in", x_npy, "--out", tmp_path / "a.npy", names=["symbolic links"])


def read_fifo(path, into):
    with open(path, "rb") as f:
        into.append(f.read())


def test_2_fifo_is_written_through(tmp_path, x_npy):
    fifo = tmp_path / "pipe.npy"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=read_fifo, args=(fifo, got), daemon=True)
    reader.start()
    p = quantize_to(x_npy, fifo, timeout=30)
    if reader.is_alive():  # a writer that replaced the FIFO never opened it: unblock the reader
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)) if stat.S_ISFIFO(os.lstat(fifo).st_mode) else None
    reader.join(5)
    assert p.returncode == 0, p.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced by a regular file"
    assert got and got[0].startswith(b"\x93NUMPY")
    tmp = tmp_path / "copy.npy"
    tmp.write_bytes(got[0])
    assert np.load(tmp).shape == (2, 3, 32)


def test_2_directory_and_missing_folder_fail_before_any_work(tmp_path, x_npy):
    (tmp_path / "d.npy").mkdir()
    fails("quantize", "--format", "e4m3fn", "--in", x_npy, "--out", tmp_path / "d.npy", names=["directory"])
    fails("quantize", "--format", "e4m3fn", "--in", x_npy, "--out", tmp_path / "no" / "y.npy", names=["no/y.npy"])


def test_2_existing_file_keeps_its_permissions(tmp_path, x_npy):
    out = tmp_path / "y.npy"
    out.write_bytes(b"old")
    os.chmod(out, 0o640)
    assert quantize_to(x_npy, out).returncode == 0
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o640


# ---------------------------------------------------------------------------
# 3. inputs: the header first, then only what it declares
# ---------------------------------------------------------------------------

def test_3_dev_zero_is_not_read_forever(tmp_path):
    fails("quantize", "--format", "e4m3fn", "--in", "/dev/zero", "--out", tmp_path / "y.npy",
          names=["bad magic"], timeout=20, limit_as=1 << 30)


def test_3_large_non_npy_file_is_rejected_from_its_first_bytes(tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:  # sparse: 4 GB of zeros after "PK"
        f.write(b"PK\x03\x04")
        f.truncate(4 << 30)
    fails("quantize", "--format", "e4m3fn", "--in", big, "--out", tmp_path / "y.npy",
          names=["bad magic"], timeout=20, limit_as=1 << 30)


def npy_bytes(dict_text, data=b""):
    h = dict_text.encode() + b"\n"
    return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + data


def test_3_a_header_declaring_terabytes_allocates_nothing(tmp_path):
    x = tmp_path / "x.npy"
    x.write_bytes(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }", b"\0" * 64))
    fails("quantize", "--format", "e4m3fn", "--in", x, "--out", tmp_path / "y.npy", names=["truncated"],
          limit_as=1 << 30)


def test_3_npy_from_a_pipe(tmp_path):
    x = tensor((4, 32))
    src = tmp_path / "x.npy"
    np.save(src, x)
    p = run("quantize", "--format", "e4m3fn", "--in", "/dev/stdin", "--out", tmp_path / "y.npy",
            stdin=src.read_bytes())
    assert p.returncode == 0, p.stderr
    fails("quantize", "--format", "e4m3fn", "--in", "/dev/stdin", "--out", tmp_path / "z.npy",
          stdin=src.read_bytes() + b"extra", names=["after the data"])
    fails("quantize", "--format", "e4m3fn", "--in", "/dev/stdin", "--out", tmp_path / "z.npy",
          stdin=src.read_bytes()[:-3], names=["truncated"])


def test_3_oversized_header_length(tmp_path):
    x = tmp_path / "x.npy"
    x.write_bytes(b"\x93NUMPY\x02\x00" + (0xFFFFFFF0).to_bytes(4, "little") + b"{")
    fails("quantize", "--format", "e4m3fn", "--in", x, "--out", tmp_path / "y.npy", names=["header"],
          limit_as=1 << 30)


# ---------------------------------------------------------------------------
# 4. --history: no allocation of its length, no C++ message
# ---------------------------------------------------------------------------

def test_4_long_history_costs_nothing(tmp_path):
    x = tmp_path / "x.npy"
    np.save(x, tensor((8, 64)))
    want, got = tmp_path / "want.npy", tmp_path / "got.npy"
    ok("quantize", "--format", "e4m3fn", "--scheme", "delayed", "--history", 8, "--in", x, "--out", want)
    ok("quantize", "--format", "e4m3fn", "--scheme", "delayed", "--history", 400_000_000, "--threads", 2,
       "--in", x, "--out", got, limit_as=2 << 30, timeout=30)
    assert np.array_equal(np.load(got), np.load(want))


def test_4_negative_history_is_one_clear_line(tmp_path, x_npy):
    err = fails("quantize", "--format", "e4m3fn", "--scheme", "delayed", "--history", "-1", "--in", x_npy,
                "--out", tmp_path / "y.npy", names=["--history"])
    assert "vector" not in err and "deque" not in err


# ---------------------------------------------------------------------------
# 5. --codes: the files appear together or not at all
# ---------------------------------------------------------------------------

def test_5_a_failing_main_file_leaves_the_old_set_untouched(tmp_path, x_npy):
    out = tmp_path / "y.npy"
    ok("quantize", "--format", "e4m3fn", "--scheme", "mx", "--in", x_npy, "--out", out, "--codes")
    old_scales = (tmp_path / "y.scales.npy").read_bytes()
    os.remove(out)
    out.mkdir()  # the main file cannot be replaced now
    np.save(x_npy, tensor(seed=2) * 1000)  # other block scales
    fails("quantize", "--format", "e4m3fn", "--scheme", "mx", "--in", x_npy, "--out", out, "--codes",
          names=["y.npy"])
    assert (tmp_path / "y.scales.npy").read_bytes() == old_scales, "a new scales file beside the old codes"
    assert leftovers(tmp_path) == []


def wait_for(predicate, seconds=20):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_5_a_rename_that_fails_midway_removes_the_new_files(tmp_path):
    """scales, zero_points (a FIFO: the commit waits there for a reader) and
    the codes. While it waits, the codes' path becomes a directory, so the
    last rename fails after the scales' rename succeeded: the new scales
    must go again."""
    x = tmp_path / "x.npy"
    np.save(x, tensor((4, 32)))
    fifo = tmp_path / "y.zero_points.npy"
    os.mkfifo(fifo)
    proc = subprocess.Popen([FLOATSCOPE, "quantize", "--format", "uint8", "--scheme", "group", "--group", "8",
                             "--asymmetric", "--codes", "--in", x, "--out", tmp_path / "y.npy"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: any("scales" in n for n in leftovers(tmp_path)) or proc.poll() is not None)
        assert proc.poll() is None, "did not wait at the FIFO: " + proc.stderr.read().decode()
        time.sleep(0.2)
        (tmp_path / "y.npy").mkdir()
        got = []
        read_fifo(fifo, got)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2, err
    assert err.decode().count("\n") == 1 and "y.npy" in err.decode()
    assert not (tmp_path / "y.scales.npy").exists(), "the new scales stayed without their codes"
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------------------
# 6. SIGINT / SIGTERM during the write phase: no temporary left behind
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_6_signals_remove_the_temporaries(tmp_path, sig):
    """The main output is a FIFO nobody reads: the run waits there with the
    scales already in a temporary file; the signal must remove it and the
    process must still die by that signal."""
    x = tmp_path / "x.npy"
    np.save(x, tensor((4, 64)))
    fifo = tmp_path / "y.npy"
    os.mkfifo(fifo)
    # The child starts with the signal's default action: a run under nohup
    # (SIGHUP ignored, inherited) must not make the test wait forever;
    # floatscope keeps an inherited "ignore", as it should.
    proc = subprocess.Popen([FLOATSCOPE, "quantize", "--format", "e4m3fn", "--scheme", "mx", "--codes",
                             "--in", x, "--out", fifo], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(sig, signal.SIG_DFL))
    try:
        assert wait_for(lambda: leftovers(tmp_path) or proc.poll() is not None)
        assert proc.poll() is None, "did not wait at the FIFO: " + proc.stderr.read().decode()
        proc.send_signal(sig)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -sig
    assert leftovers(tmp_path) == []
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and not (tmp_path / "y.scales.npy").exists()


# ---------------------------------------------------------------------------
# 7. errors writing stdout
# ---------------------------------------------------------------------------

def to_dev_full(*args, stdin=""):
    with open("/dev/full", "wb") as full:
        return run(*args, stdin=stdin, stdout=full)


@pytest.mark.parametrize("args, stdin", [
    (["eval", "f16_to_f32"], "3c00\n"),
    (["eval", "f16_to_f32"], "3c00\n" * 100000),
    (["verify", "f16_to_f32"], "3c00 3f800000 00\n"),
    (["explain", "0.1", "--format", "e4m3fn"], ""),
    (["formats", "--json"], ""),
], ids=["eval", "eval-long", "verify", "explain", "formats"])
def test_7_stdout_write_errors_are_reported(args, stdin):
    p = to_dev_full(*args, stdin=stdin)
    err = p.stderr.decode()
    assert p.returncode == 2, err
    assert err.count("\n") == 1 and "standard output" in err and "No space left" in err, err


# ---------------------------------------------------------------------------
# 8. out-of-range and empty numbers
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["eval", "f32_to_e4m3fn", "--round", "sr", "--seed", str(2**64)],
    ["eval", "f32_to_e4m3fn", "--round", "sr", "--seed", "99999999999999999999999"],
    ["eval", "f32_to_e4m3fn", "--round", "sr", "--seed", ""],
    ["eval", "f32_to_e4m3fn", "--round", "sr", "--seed", "-1"],
    ["eval", "f32_to_e4m3fn", "--round", "sr", "--seed", " 5"],
    ["explain", "0.1", "--format", "e4m3fn", "--round", "sr", "--index", "-1"],
    ["explain", "0.1", "--format", "e4m3fn", "--round", "sr", "--index", str(2**64)],
    ["explain", "0.1", "--format", "e4m3fn", "--round", "sr", "--index", ""],
], ids=lambda a: " ".join(a[-2:]) or "empty")
def test_8_out_of_range_numbers_are_refused(args):
    fails(*args, stdin="3f800000\n", names=[args[-2]])


def test_8_the_largest_seed_and_index_work():
    a = ok("eval", "f32_to_e4m3fn", "--round", "sr", "--seed", str(U64_MAX), stdin="3f880000\n" * 8)
    assert len(a.splitlines()) == 8
    ok("explain", "1.0625", "--format", "e4m3fn", "--round", "sr", "--index", str(U64_MAX))


# ---------------------------------------------------------------------------
# 9. a bad line: stdout holds the output of exactly the lines before it
# ---------------------------------------------------------------------------

def test_9_eval_prints_exactly_the_lines_before_the_bad_one():
    good = [f"{i & 0x7bff:04x}" for i in range(70000)]
    full = ok("eval", "f16_to_f32", stdin="".join(l + "\n" for l in good))
    p = run("eval", "f16_to_f32", stdin="".join(l + "\n" for l in good) + "zz\n" + "3c00\n" * 10)
    assert p.returncode == 2 and b"line 70001" in p.stderr
    assert p.stdout.decode() == full, f"{len(p.stdout.decode().splitlines())} of 70000 lines"


def test_9_verify_prints_the_mismatches_before_the_bad_line_and_no_summary():
    lines = "3c00 3f800000 00\n" * 5 + "3c00 3f800001 00\n" + "3c00 3f800000 00\n" * 70000 + "xx\n"
    p = run("verify", "f16_to_f32", stdin=lines)
    assert p.returncode == 2 and b"line 70007" in p.stderr
    out = p.stdout.decode()
    assert out.startswith("line 6: f16_to_f32 3c00: expected 3f800001 00") and "passed" not in out


# ---------------------------------------------------------------------------
# 10. negative VALUEs need no "--"
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("value, code", [("-inf", "fc00"), ("-Inf", "fc00"), ("-infinity", "fc00"),
                                         ("-nan", "fe00"), ("-NaN", "fe00"), ("-0.5", "b800"), ("-1e-3", "9419"),
                                         ("-0x1p-3", "b000")])
def test_10_negative_values_work_without_double_dash(value, code):
    for args in (["explain", value, "--format", "f16"], ["explain", "--format", "f16", value]):
        out = ok(*args)
        assert f"  code        {code}\n" in out, out


def test_10_an_unknown_short_option_is_still_an_error():
    fails("explain", "0.5", "--format", "f16", "-q", names=["-q"])


# ---------------------------------------------------------------------------
# 11. gpu-verify checks its arguments before looking for a device
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("args, names", [
    (["--exhaustive", "--format", "e9m9x"], ["e9m9x"]),
    (["--exhaustive", "--format", "e4m3fn", "--round", "up"], ["'up'"]),
    (["--exhaustive", "--format", "e4m3fn", "--kernels", "turbo"], ["turbo"]),
    (["--exhaustive", "--format", "e2m1fn", "--overflow", "nan"], ["no NaN"]),
    (["--exhaustive", "--format", "e4m3fn", "--seed", "3"], ["--seed"]),
    (["--exhaustive", "--format", "e4m3fn", "--subnormals", "daz"], ["daz"]),
    (["--exhaustive", "--format", "f32"], ["f32"]),
    (["--in", "/nonexistent/x.npy", "--out", "/nonexistent/y.npy", "--format", "e4m3fn"], ["/nonexistent/x.npy"]),
    (["--in", "x.npy", "--out", "y.npy", "--format", "e4m3fn,e5m2"], ["one format"]),
    (["--in", "x.npy", "--out", "y.npy", "--format", "e4m3fn", "--kernels", "fast,core"], ["one kernel"]),
    (["--exhaustive", "--json", "/nonexistent/dir/r.json"], ["/nonexistent/dir"]),
], ids=lambda a: " ".join(a) if isinstance(a, list) and a and a[0].startswith("--") else None)
def test_11_gpu_verify_validates_before_the_device(args, names):
    err = fails("gpu-verify", *args, names=names)
    assert "without CUDA" not in err and "no CUDA device" not in err


# ---------------------------------------------------------------------------
# 12. messages that name the real problem
# ---------------------------------------------------------------------------

def test_12_a_directory_as_input_says_so(tmp_path):
    fails("quantize", "--format", "e4m3fn", "--in", tmp_path, "--out", tmp_path / "y.npy", names=["is a directory"])
    np.save(tmp_path / "y.npy", np.zeros(3, np.uint8))
    fails("verify", "f32_to_e4m3fn", "--in", tmp_path, "--out", tmp_path / "y.npy", names=["is a directory"])
    np.save(tmp_path / "x.npy", np.zeros(3, np.float32))
    fails("verify", "f32_to_e4m3fn", "--in", tmp_path / "x.npy", "--out", tmp_path, names=["is a directory"])


def test_12_verify_out_of_int8_codes_names_the_accepted_dtypes(tmp_path):
    np.save(tmp_path / "x.npy", np.ones(4, np.float32))
    np.save(tmp_path / "y.npy", np.ones(4, np.int8))
    err = fails("verify", "f32_to_e4m3fn", "--in", tmp_path / "x.npy", "--out", tmp_path / "y.npy",
                names=["'|i1'", "uint8"])
    assert "need float32 or float64" not in err


# ---------------------------------------------------------------------------
# 13. options that would do nothing are refused
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("args, names", [
    (["eval", "f32_to_e4m3fn", "--seed", "3"], ["--seed", "sr"]),
    (["eval", "f32_to_e4m3fn", "--sr-bits", "8"], ["--sr-bits", "sr"]),
    (["verify", "f32_to_e4m3fn", "--seed", "3"], ["--seed"]),
    (["explain", "0.1", "--format", "e4m3fn", "--seed", "3"], ["--seed"]),
    (["explain", "0.1", "--format", "e4m3fn", "--index", "3"], ["--index"]),
    (["explain", "--format", "e4m3fn", "--code", "1d", "--round", "rtz"], ["--code", "--round"]),
    (["explain", "--format", "e4m3fn", "--code", "1d", "--index", "2"], ["--code", "--index"]),
], ids=lambda a: " ".join(a) if isinstance(a, list) and len(a) > 2 else None)
def test_13_options_that_do_nothing_are_refused(args, names):
    fails(*args, stdin="3f800000\n", names=names)


def test_13_quantize_seed_without_sr_and_axis_on_0d(tmp_path, x_npy):
    fails("quantize", "--format", "e4m3fn", "--seed", "3", "--in", x_npy, "--out", tmp_path / "y.npy",
          names=["--seed"])
    np.save(tmp_path / "s.npy", np.float32(3.0))
    for scheme in ("channel", "mx"):
        fails("quantize", "--format", "e4m3fn", "--scheme", scheme, "--axis", "0", "--in", tmp_path / "s.npy",
              "--out", tmp_path / "y.npy", names=["--axis", "0-d"])
    ok("quantize", "--format", "e4m3fn", "--scheme", "channel", "--in", tmp_path / "s.npy", "--out", tmp_path / "y.npy")
    assert not (tmp_path / "y.npy.tmp").exists()


def test_13_seed_with_sr_and_sr_eq_still_work():
    ok("eval", "f32_to_e4m3fn", "--round", "sr", "--seed", "3", "--sr-bits", "8", stdin="3f880000\n")
    ok("eval", "f32_to_e4m3fn", "--round", "sr-eq", "--seed", "3", stdin="3f880000\n")


# ---------------------------------------------------------------------------
# 14. values beyond MPFR's exponent range
# ---------------------------------------------------------------------------

def explain_fields(*args):
    out = ok("explain", *args)
    fields = {}
    for line in out.splitlines()[1:]:
        key, _, rest = line.strip().partition("  ")
        fields[key] = rest.strip()
    return fields


def test_14_a_value_below_every_exponent_range_has_a_nonzero_error():
    f = explain_fields("1e-99999999999999999999", "--format", "f16")
    assert f["code"] == "0000" and f["flags"] == "03 (underflow,inexact)"
    abs_err, rel_err = f["error"].split()[1], f["error"].split()[3]
    assert abs_err == "-1e-99999999999999999999" and rel_err == "-1", f["error"]
    f = explain_fields("-1e-99999999999999999999", "--format", "f16", "--round", "rdn")
    assert f["code"] == "8001" and f["error"].split()[1] == "-5.96046e-08", f["error"]


def test_14_a_value_above_every_exponent_range_is_finite_and_overflows():
    f = explain_fields("1e99999999999999999999", "--format", "f16")
    assert f["code"] == "7c00" and f["flags"] == "05 (overflow,inexact)", f
    f = explain_fields("1e99999999999999999999", "--format", "f16", "--round", "rtz")
    assert f["code"] == "7bff" and f["flags"] == "05 (overflow,inexact)", f
    assert f["error"].split()[1] == "-1e99999999999999999999" and f["error"].split()[3] == "-1", f["error"]


# ---------------------------------------------------------------------------
# Every error line is one line: control bytes in a message are escaped
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("policy, names", [
    ('{"layers": {"a\\nb": 1}}', ["a\\x0ab"]),         # a JSON key with a newline, echoed by train/policy.cc
    ('{"a": 1e999}', ["1e999"]),                        # found by tests/fuzz/fuzz_policy.cc: not a PolicyError
])
def test_error_lines_stay_one_line(tmp_path, policy, names):
    fails("train", "--model", "mlp", "--data", "digits", "--policy", policy, "--out", tmp_path / "run",
          "--plots", "off", names=names)


# ---------------------------------------------------------------------------
# train: the same rules (integer options, a missing policy key, the output
# folder written as one set)
# ---------------------------------------------------------------------------

TRAIN = ["train", "--model", "mlp", "--data", "digits", "--policy", "fp32", "--steps", "2", "--plots", "off",
         "--quiet"]


@pytest.mark.parametrize("option, value", [
    ("--seed", "-1"), ("--seed", ""), ("--seed", str(2**64)), ("--seed", "1e3"),
    ("--steps", "0"), ("--steps", "-5"), ("--batch", "-1"), ("--threads", "0"), ("--threads", "9999"),
    ("--log-every", "0"), ("--hist-every", "-1"),
])
def test_train_integer_options_are_range_checked(tmp_path, option, value):
    fails(*TRAIN, "--out", tmp_path / "run", option, value, names=[option])
    assert not (tmp_path / "run").exists()


def test_train_the_largest_seed_works(tmp_path):
    ok(*TRAIN, "--out", tmp_path / "run", "--seed", str(U64_MAX))
    assert (tmp_path / "run" / "summary.json").exists()


def test_train_a_missing_policy_key_is_one_line(tmp_path):
    # found by tests/fuzz/fuzz_policy.cc (seed missing_step_key): nlohmann's out_of_range, not a PolicyError
    policy = '{"schedule": {"progressive": [{"policy": "fp32"}]}}'
    fails("train", "--model", "mlp", "--data", "digits", "--policy", policy, "--out", tmp_path / "run",
          "--plots", "off", names=["'step' is missing"])


def test_train_out_that_is_a_file_fails_before_training(tmp_path):
    f = tmp_path / "file"
    f.write_text("keep")
    fails(*TRAIN, "--out", f, names=["not a folder"])
    assert f.read_text() == "keep"


def test_train_outputs_leave_no_temporaries_and_replace_the_old_set(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "summary.json").write_text("old")
    ok(*TRAIN, "--out", out)
    names = sorted(os.listdir(out))
    assert names == ["hist.json", "layers.csv", "steps.csv", "summary.json", "switches.json"], names
    assert (out / "summary.json").read_text() != "old"
