#pragma once
// Errors the user can act on. Every message names the file / key / node and what to do.
#include <stdexcept>
#include <string>

namespace spikechip {

// A runtime failure (bad file, model does not fit, deadlock...): exit code 1.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An output could not be written (disk full, a directory not writable, an I/O error): exit code
// kWriteErrorExit. The file that failed is not left half-written (nor, for a run report, the
// previous run's files touched); outputs written before it stay, each complete. Thrown by the
// writers of base/file_util and report/report_writer and by the sweep store; a sweep runs a point
// that exited with it again when it is resumed.
class WriteError : public Error {
 public:
  using Error::Error;
};
inline constexpr int kWriteErrorExit = 4;

// The command line itself is wrong: exit code 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace spikechip
