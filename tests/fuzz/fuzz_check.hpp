#pragma once

#include <cstdio>
#include <cstdlib>

/// Stops the fuzzer with the broken invariant's text and place; libFuzzer then saves the input as a crash artifact.
/// An invariant is what every input must keep (a frame lies inside the input, a decoded value encodes back to the
/// same bytes), so breaking it is a bug in the decoder, not bad input.
#define ROO_FUZZ_CHECK(condition)                                                                         \
  do {                                                                                                    \
    if (!(condition)) {                                                                                   \
      std::fprintf(stderr, "fuzz invariant broken at %s:%d: %s\n", __FILE__, __LINE__, #condition);       \
      std::abort();                                                                                       \
    }                                                                                                     \
  } while (false)
