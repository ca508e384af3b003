// Counter-based random numbers for the experiments' built-in data: a value
// is a pure function of its key (seed mixed with the element's position),
// so data sets are the same at any thread count and in any order.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

namespace floatscope::experiments {

inline uint64_t Mix(uint64_t x) {  // splitmix64's finalizer
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A uniform double in [0, 1) from a key: 53 random bits.
inline double Uniform(uint64_t key) { return static_cast<double>(Mix(key) >> 11) * 0x1p-53; }

// A standard normal from a key (Box-Muller on two uniforms).
inline double Normal(uint64_t key) {
  const double u1 = Uniform(key), u2 = Uniform(key ^ 0x5851F42D4C957F2Dull);
  return std::sqrt(-2.0 * std::log1p(-u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

}  // namespace floatscope::experiments
