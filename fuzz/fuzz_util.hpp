#pragma once
// Shared by the libFuzzer targets (docs/reliability.md): a private scratch directory for loaders
// that read files, and the one verdict every target applies. An input may be rejected only with a
// spikechip::Error or UsageError (the one-line errors the CLI prints, exit 1 / 2); any other
// exception is what the CLI reports as "internal error", so the target aborts and libFuzzer saves
// the input as a crash. Crashes, hangs and sanitizer reports are caught by libFuzzer itself.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace spikechip::fuzz {

// A directory of this process (removed at exit), so parallel fuzz jobs never share files.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::string t = (std::filesystem::temp_directory_path() / "spikechip-fuzz-XXXXXX").string();
    if (!::mkdtemp(t.data())) std::abort();
    static const std::string keep = t;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(keep, ec);
    });
    return std::filesystem::path(t);
  }();
  return dir;
}

inline std::string write_scratch(const std::string& name, const uint8_t* data, size_t size) {
  const std::string p = (scratch_dir() / name).string();
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data), std::streamsize(size));
  if (!f) std::abort();
  return p;
}

// Runs the loader: clean errors are expected, anything else aborts (see the file comment).
template <class F>
void expect_clean(F&& f) {
  try {
    f();
  } catch (const Error&) {
  } catch (const UsageError&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "internal error (not a spikechip::Error): %s\n", e.what());
    std::abort();
  }
}

// Splits an input into parts at a 4-byte marker (targets that need several files or frames).
inline constexpr std::string_view kPartMarker = "\xff\xfe\xfd\xfc";
inline std::vector<std::string_view> split_parts(const uint8_t* data, size_t size) {
  std::vector<std::string_view> parts;
  std::string_view s(reinterpret_cast<const char*>(data), size);
  for (;;) {
    const size_t at = s.find(kPartMarker);
    parts.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return parts;
    s.remove_prefix(at + kPartMarker.size());
  }
}
}  // namespace spikechip::fuzz
