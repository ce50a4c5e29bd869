// PC_CHECK(cond): aborts with file, line and the failed condition. For bugs only (broken
// invariants), never for bad input, which gets a Status.
#pragma once

#include <cstdio>
#include <cstdlib>

#define PC_CHECK(cond)                                                                   \
  do {                                                                                   \
    if (!(cond)) [[unlikely]] {                                                          \
      std::fprintf(stderr, "PC_CHECK failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (false)
