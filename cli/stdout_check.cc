#include "cli/stdout_check.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <streambuf>
#include <string>

#include "cli/cli_error.h"

namespace floatscope::cli {

namespace {

int g_first_errno = 0;  // of the first failed write to stdout

void Record() {
  if (g_first_errno == 0) g_first_errno = errno != 0 ? errno : EIO;
}

// std::cout's buffer: C's stdout, unbuffered on this side (as libstdc++'s
// stdio_sync_filebuf), recording why a write failed.
class RecordingStdoutBuf : public std::streambuf {
 protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    errno = 0;
    if (std::fputc(c, stdout) == EOF) {
      Record();
      return traits_type::eof();
    }
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    errno = 0;
    const size_t w = std::fwrite(s, 1, static_cast<size_t>(n), stdout);
    if (w != static_cast<size_t>(n)) Record();
    return static_cast<std::streamsize>(w);
  }
  int sync() override {
    errno = 0;
    if (std::fflush(stdout) != 0) {
      Record();
      return -1;
    }
    return 0;
  }
};

[[noreturn]] void Fail() {
  const int err = g_first_errno;
  std::cout.clear();
  std::clearerr(stdout);
  throw UsageError(std::string("cannot write to standard output: ") +
                   (err != 0 ? std::strerror(err) : "a write failed"));
}

}  // namespace

void InstallStdoutCheck() {
  static RecordingStdoutBuf buf;
  std::cout.rdbuf(&buf);
}

void WriteStdout(std::string_view text) {
  std::cout.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!std::cout || g_first_errno != 0) Fail();
}

void FlushStdout() {
  std::cout.flush();
  errno = 0;
  if (std::fflush(stdout) != 0) Record();
  if (!std::cout || std::ferror(stdout) || g_first_errno != 0) Fail();
}

}  // namespace floatscope::cli
