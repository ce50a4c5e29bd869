// RunProgram: runs a built program to completion with a time bound and returns its exit
// status and combined stdout+stderr. For tests of example and tool binaries.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace prefixcache::testing {

struct ProgramResult {
  int exit_code = -1;  // -1 when it did not exit normally (signal, time bound)
  std::string output;  // stdout and stderr, interleaved as written
};

ProgramResult RunProgram(const std::vector<std::string>& argv,
                         std::chrono::milliseconds bound = std::chrono::seconds(60));

}  // namespace prefixcache::testing
