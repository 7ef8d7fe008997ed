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

// The command line itself is wrong: exit code 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace spikechip
