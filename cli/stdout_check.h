// Standard output is checked like any other file: a write error (a full
// disk, /dev/full, a closed terminal) is one error line and exit status 2,
// never a silent exit 0.
#pragma once

#include <string_view>

namespace floatscope::cli {

// Puts a buffer under std::cout that writes through C's stdout (as
// sync_with_stdio does) and keeps the errno of the first failed write, which
// would otherwise be lost by the time the error is noticed. Call first.
void InstallStdoutCheck();

// Writes `text` to std::cout; throws UsageError("cannot write to standard
// output: <reason>") at once if a write has failed, so that a long run stops
// at its first lost line.
void WriteStdout(std::string_view text);

// Flushes std::cout; throws the same UsageError if that or any earlier
// write to it failed.
void FlushStdout();

}  // namespace floatscope::cli
