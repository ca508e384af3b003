// libFuzzer target: precision policies (train/policy.h): preset names and
// inline JSON policies. Input that would name a file gets a '{' in front,
// so the fuzzer never opens one.
// Property: only PolicyError comes out (cli/main.cc prints it as one line,
// control bytes escaped); a policy that resolves gives a layer policy for
// any layer.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "train/policy.h"

using namespace floatscope;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string spec(reinterpret_cast<const char*>(data), size);
  const bool names_file =
      spec.find('/') != std::string::npos || (spec.size() > 5 && spec.compare(spec.size() - 5, 5, ".json") == 0);
  if (names_file && (spec.empty() || spec[0] != '{')) spec.insert(0, 1, '{');
  try {
    const train::Policy p = train::ResolvePolicy(spec, train::PolicyParams{});
    for (size_t i = 0; i < 3; ++i) train::LayerPolicyFor(p, i, 3, i == 0 ? "fc1" : i == 1 ? "attn" : "head");
  } catch (const train::PolicyError&) {
  }
  return 0;
}
