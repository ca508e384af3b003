// Atomic output files: what every program that writes results uses (the
// experiments, and the benchmarks, which nvcc compiles without fmt).
#pragma once

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace floatscope::experiments {

// Writes `text` to `path` through a temporary file in the same folder, then
// renames it over `path`: an interrupted run leaves the old file or the new
// one, never half of one.
inline void WriteAtomically(const std::filesystem::path& path, const std::string& text) {
  std::string name = ".";  // appended, not "." + name: GCC 12 warns falsely (-Wrestrict) on that at -O3
  name += path.filename().string();
  name += ".tmp";
  const std::filesystem::path tmp = path.parent_path() / name;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot create " + tmp.string());
    out << text;
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace floatscope::experiments
