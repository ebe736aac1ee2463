// descent/optim/state_dtype.h: the options of an optimizer whose state can be
// kept in 8 bits (see optim/quantized_state.h): declared in its options struct
// with DESCENT_STATE_DTYPE_OPTIONS() and listed in its fields() with
// DESCENT_STATE_DTYPE_FIELDS(v).
//   state_dtype    "float32" (default: full-precision state, float64 for float64
//                  parameters, exactly as without the option) or "int8" (uint8
//                  codes into bitsandbytes' dynamic maps + a float32 absmax per
//                  block)
//   blocksize      elements per absmax block, 1..4096 (bitsandbytes: 256)
//   min_8bit_size  tensors with fewer elements keep full-precision state (4096)
#pragma once

#include <cstdint>
#include <string>

// The three options of a quantizable optimizer (inside its options struct)
// and their fields (inside its fields()).
#define DESCENT_STATE_DTYPE_OPTIONS()                    \
  DESCENT_OPTION(std::string, state_dtype, "float32")    \
  DESCENT_OPTION(std::int64_t, blocksize, 256)           \
  DESCENT_OPTION(std::int64_t, min_8bit_size, 4096)

#define DESCENT_STATE_DTYPE_FIELDS(v)                             \
  do {                                                            \
    v("state_dtype", state_dtype_, one_of({"float32", "int8"}));  \
    v("blocksize", blocksize_, in_cc(1, 4096));                   \
    v("min_8bit_size", min_8bit_size_, at_least(0));             \
  } while (0)
