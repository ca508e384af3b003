// tc_fit: fits emulate/dot.h's kHardware model to the H100 tensor-core
// probe's data and verifies it bit for bit.
//
//   tc_fit fit FILE [--max-k K] [--threads T] [--check-random N]
//       Tries every model of a grid (group size, fraction bits, accumulator
//       aligned or not, promotion interval, rounding of a group's sum,
//       alignment by leading bit or exponent sum) on the designed probes of
//       FILE whose K <= max-k (default 1024), and lists the models that
//       reproduce every one; each of those (and near misses, with fewer
//       than 20 mismatches) is then scored on N random dot products spread
//       over the file (default 20000). Exit status 0 when some model fits.
//   tc_fit verify FILE (--preset NAME | MODEL FLAGS) [--split MxNxK:S[:T]]...
//          [--residue-tile [MxNxK:]T]... [--only MxNxK]... [--threads T] [--show N]
//       Replays every dot product of FILE through the model and prints the
//       agreement per (kind, distribution or probe family, shape); the first
//       N mismatches (default 5) are printed with inputs' positions, both
//       outputs in hex and the exact value. Exit status 0 only when every
//       dot product agrees bit for bit.
//   MODEL FLAGS: --group G --fraction-bits F --accumulator 0|1
//       --promote-every N --round rne|rtz --align lead|sum
//       --sum-bits P (group sums rounded to P significant bits; 24: float32)
//       --promote-rne 0|1 (promotions round to nearest even)
//   --split MxNxK:S[:T]: the GEMM of that shape ran as cuBLAS split-K with S
//       chunks of ceil(K/S) rounded up to a multiple of T (default 1)
//   --residue-first T: a K (or chunk) not a multiple of T runs its partial
//       tile first, as leading zero terms would
//   --residue-tile [MxNxK:]T: CUTLASS's K loop (cuBLASLt algorithms 23, 24):
//       a K (or chunk) not a multiple of the K tile T runs its first K mod T
//       elements first, zero-filled after them, then whole tiles (tc_data.h
//       Replay::residue_tile); with a shape, for that GEMM only
//   --mma-k [MxNxK:]K: the kernel's MMA instruction takes K elements per
//       step, the model's groups K long (cuBLASLt's algorithm 24 with stages
//       id 0: mma.sync m16n8k8, 8; tc_data.h Replay::mma_k); with a shape,
//       for that GEMM only
//   --only MxNxK: verify only the GEMMs of that shape (repeatable)
//   --preset NAME: an emulate/h100_tensor_core.h preset (h100-f16, ...,
//       hopper-mma-fp8: the FP8 mma.sync instruction on Hopper, f16 steps in
//       the instruction's K order)
//   --convert f16: both operands converted to f16 (exactly) before the model
//       (DotModel::operand_format)
//   --k-perm i0,i1,...: each block of that many K elements (K zero-padded)
//       enters the model in this order (Replay::k_perm; a permutation)
//   --slices W:T: sliced K, each tile of T elements cut into W slices, one
//       accumulator per slice, summed with RNE at the end
//       chunks (the probe's metadata names the kernels).
//
// FILE is probe.py's output, gunzipped (tc_<config>.bin).
#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "emulate/h100_tensor_core.h"
#include "experiments/tensor_core_probe/tc_data.h"

using namespace floatscope;
using namespace floatscope::tc;

namespace {

// float32's exponent range with P significant bits, P = 12..24 (a group
// sum's format, model.sum_format); index P - 12.
struct SumFormats {
  std::vector<std::string> names;
  std::vector<Format> formats;
  SumFormats() {
    names.reserve(13);
    formats.reserve(13);
    for (uint8_t p = 12; p <= 24; ++p) {
      names.push_back("f32p" + std::to_string(p));
      formats.push_back(Format{names.back().c_str(), Kind::kFloat, static_cast<uint8_t>(8 + p), 32, true, 8,
                               static_cast<uint8_t>(p - 1), 127, InfCodes::kIeee, NanCodes::kIeee, true, true,
                               Overflow::kIeee, "tc_fit: float32 range, P significant bits",
                               static_cast<uint8_t>(24 - p)});
    }
  }
  const Format* Get(unsigned p) const { return p >= 12 && p < 24 ? &formats[p - 12] : nullptr; }
};
const SumFormats& Sums() {
  static const SumFormats s;
  return s;
}

[[noreturn]] void Fail(const std::string& msg) {
  std::fprintf(stderr, "tc_fit: %s\n", msg.c_str());
  std::exit(2);
}

struct Args {
  std::string command, file;
  size_t max_k = 1024;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  size_t check_random = 20000;
  size_t show = 5;
  std::string preset;
  bool model_given = false;
  Replay replay;
  const Format* convert = nullptr;  // --convert: the model's operand_format
  std::map<std::string, std::pair<uint32_t, uint32_t>> splits;  // shape -> (chunks, K tile)
  std::map<std::string, uint32_t> residue_tiles;  // shape -> K tile (--residue-tile MxNxK:T)
  std::map<std::string, uint32_t> mma_ks;  // shape -> the instruction's K (--mma-k MxNxK:K)
  std::vector<std::string> only;  // verify: only these shapes (all when empty)
};

std::string Describe(const Replay& rp) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "G=%u F=%u A=%d N=%u round=%s align=%s P=%d promote=%s", rp.model.group,
                rp.model.fraction_bits, rp.model.include_accumulator ? 1 : 0, rp.model.promote_every,
                rp.opt.rounding == Rounding::kTowardZero ? "rtz" : "rne",
                rp.model.alignment == Alignment::kExponentSum ? "sum" : "lead",
                rp.model.sum_format ? rp.model.sum_format->mantissa_bits + 1 : 24,
                rp.model.promote_nearest_even ? "rne" : "same");
  std::string out = buf;
  if (rp.mma_k > 0) out += " mma_k=" + std::to_string(rp.mma_k) + " (G of every GEMM)";
  if (rp.model.operand_format) out += std::string(" operands=") + rp.model.operand_format->name;
  if (rp.model.instruction_k > 1)
    out += " instruction_k=" + std::to_string(rp.model.instruction_k) + " substeps=" +
           std::to_string(rp.model.substeps) + "x" + std::to_string(rp.model.substep_run);
  return out;
}

Args Parse(int argc, char** argv) {
  Args a;
  a.replay.model.accumulation = Accumulation::kHardware;
  if (argc < 3) Fail("usage: tc_fit fit|verify FILE [options] (see the top of tc_fit.cc)");
  a.command = argv[1];
  a.file = argv[2];
  if (a.command != "fit" && a.command != "verify") Fail("unknown command '" + a.command + "' (fit or verify)");
  for (int i = 3; i < argc; ++i) {
    const std::string opt = argv[i];
    if (i + 1 >= argc) Fail(opt + " needs a value");
    const std::string v = argv[++i];
    auto num = [&]() -> unsigned long {
      char* end = nullptr;
      const unsigned long x = std::strtoul(v.c_str(), &end, 10);
      if (v.empty() || *end) Fail(opt + ": '" + v + "' is no number");
      return x;
    };
    if (opt == "--max-k") a.max_k = num();
    else if (opt == "--threads") a.threads = std::max(1ul, num());
    else if (opt == "--check-random") a.check_random = num();
    else if (opt == "--show") a.show = num();
    else if (opt == "--preset") a.preset = v;
    else if (opt == "--group") a.replay.model.group = num(), a.model_given = true;
    else if (opt == "--fraction-bits") a.replay.model.fraction_bits = num(), a.model_given = true;
    else if (opt == "--accumulator") a.replay.model.include_accumulator = num() != 0, a.model_given = true;
    else if (opt == "--promote-every") a.replay.model.promote_every = num(), a.model_given = true;
    else if (opt == "--sum-bits") {
      const unsigned long p = num();
      if (p != 24 && !Sums().Get(p)) Fail("--sum-bits: 12..24, not " + v);
      a.replay.model.sum_format = Sums().Get(p);
      a.model_given = true;
    } else if (opt == "--promote-rne") a.replay.model.promote_nearest_even = num() != 0, a.model_given = true;
    else if (opt == "--round") {
      if (v == "rne") a.replay.opt.rounding = Rounding::kNearestEven;
      else if (v == "rtz") a.replay.opt.rounding = Rounding::kTowardZero;
      else Fail("--round: rne or rtz, not '" + v + "'");
      a.model_given = true;
    } else if (opt == "--align") {
      if (v == "lead") a.replay.model.alignment = Alignment::kLeadingBit;
      else if (v == "sum") a.replay.model.alignment = Alignment::kExponentSum;
      else Fail("--align: lead or sum, not '" + v + "'");
      a.model_given = true;
    } else if (opt == "--slices") {
      const size_t colon = v.find(':');
      if (colon == std::string::npos) Fail("--slices: W:T, not '" + v + "'");
      a.replay.slices = static_cast<uint32_t>(std::strtoul(v.c_str(), nullptr, 10));
      a.replay.slice_tile = static_cast<uint32_t>(std::strtoul(v.c_str() + colon + 1, nullptr, 10));
      if (a.replay.slices < 1 || a.replay.slice_tile % a.replay.slices != 0) Fail("--slices: T must be a multiple of W");
    } else if (opt == "--convert") {
      if (v != "f16") Fail("--convert: f16, not '" + v + "'");
      a.convert = &formats::kF16;
    } else if (opt == "--k-perm") {
      std::vector<uint32_t> perm;
      for (size_t at = 0; at <= v.size();) {
        const size_t comma = std::min(v.find(',', at), v.size());
        perm.push_back(static_cast<uint32_t>(std::strtoul(v.substr(at, comma - at).c_str(), nullptr, 10)));
        at = comma + 1;
      }
      std::vector<uint32_t> sorted = perm;
      std::sort(sorted.begin(), sorted.end());
      for (size_t j = 0; j < sorted.size(); ++j)
        if (sorted[j] != j) Fail("--k-perm: a permutation of 0..n-1, not '" + v + "'");
      a.replay.k_perm = perm;
    } else if (opt == "--residue-tile") {
      const size_t colon = v.find(':');
      if (colon == std::string::npos) a.replay.residue_tile = num();
      else a.residue_tiles[v.substr(0, colon)] = static_cast<uint32_t>(std::strtoul(v.c_str() + colon + 1, nullptr, 10));
    } else if (opt == "--mma-k") {
      const size_t colon = v.find(':');
      if (colon == std::string::npos) a.replay.mma_k = num();
      else a.mma_ks[v.substr(0, colon)] = static_cast<uint32_t>(std::strtoul(v.c_str() + colon + 1, nullptr, 10));
    } else if (opt == "--only") {
      a.only.push_back(v);
    } else if (opt == "--residue-first") {
      a.replay.residue_first = num();
    } else if (opt == "--split") {
      const size_t colon = v.find(':');
      if (colon == std::string::npos) Fail("--split: MxNxK:S, not '" + v + "'");
      char* end = nullptr;
      const unsigned long s = std::strtoul(v.c_str() + colon + 1, &end, 10);
      if (s < 2) Fail("--split: S must be at least 2 in '" + v + "'");
      unsigned long align = 1;
      if (*end == ':') align = std::strtoul(end + 1, nullptr, 10);
      if (align < 1) Fail("--split: the K tile must be at least 1 in '" + v + "'");
      a.splits[v.substr(0, colon)] = {static_cast<uint32_t>(s), static_cast<uint32_t>(align)};
    } else Fail("unknown option " + opt);
  }
  if (a.command == "verify") {
    if (!a.preset.empty() && a.model_given) Fail("verify: --preset or model flags, not both");
    if (!a.preset.empty()) {
      const H100TensorCoreModel* m = FindH100TensorCoreModel(a.preset);
      if (!m) {
        std::string names;
        for (const H100TensorCoreModel& p : kH100TensorCoreModels)
          names += std::string(names.empty() ? "" : ", ") + p.name;
        Fail("unknown preset '" + a.preset + "' (emulate/h100_tensor_core.h: " + names + ")");
      }
      a.replay.model = m->model;
      a.replay.opt = m->options;
    } else if (!a.model_given) Fail("verify: give --preset NAME or model flags");
    if (a.convert) a.replay.model.operand_format = a.convert;
  }
  return a;
}

std::vector<Record> Load(const std::string& path) {
  try {
    return ReadRecords(path);
  } catch (const std::exception& e) {
    Fail(e.what());
  }
}

struct Dot1 {
  const Record* r;
  size_t d;
};

// Every designed probe with K <= max_k (padding rows left out).
std::vector<Dot1> DesignedDots(const std::vector<Record>& recs, size_t max_k) {
  std::vector<Dot1> out;
  for (const Record& r : recs)
    if (r.designed() && r.K <= max_k)
      for (size_t d = 0; d < r.dots(); ++d)
        if (r.tags[d * 4] != 0) out.push_back({&r, d});
  return out;
}

int Fit(const Args& args, const std::vector<Record>& recs) {
  const std::vector<Dot1> probes = DesignedDots(recs, args.max_k);
  std::printf("fit: %zu designed probes with K <= %zu\n", probes.size(), args.max_k);
  std::vector<Replay> grid;
  for (uint32_t g : {8u, 16u, 32u})
    for (uint32_t f = 10; f <= 30; ++f)
      for (bool acc : {false, true})
        for (uint32_t n : {0u, 2u, 4u, 8u})
          for (Rounding rnd : {Rounding::kNearestEven, Rounding::kTowardZero})
            for (Alignment al : {Alignment::kLeadingBit, Alignment::kExponentSum})
              for (unsigned p : {13u, 14u, 15u, 24u})
                for (bool pne : {false, true}) {
                  if (pne && (n == 0 || rnd == Rounding::kNearestEven)) continue;  // same as !pne
                  if (p != 24 && p > f + 2) continue;  // a group sum never needs rounding then... keep simple
                  Replay rp;
                  rp.k_perm = args.replay.k_perm;  // --k-perm: fit under that K order
                  rp.model.operand_format = args.convert;
                  rp.model.accumulation = Accumulation::kHardware;
                  rp.model.group = g, rp.model.fraction_bits = f, rp.model.include_accumulator = acc;
                  rp.model.promote_every = n, rp.model.alignment = al;
                  rp.model.sum_format = Sums().Get(p);
                  rp.model.promote_nearest_even = pne;
                  rp.opt.rounding = rnd;
                  grid.push_back(rp);
                }
  // Mismatches per candidate, counted up to a cap (most candidates fail fast).
  constexpr size_t kCap = 20;
  std::vector<size_t> miss(grid.size(), 0);
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t c; (c = next++) < grid.size();) {
      size_t m = 0;
      for (const Dot1& p : probes) {
        if (Emulate(*p.r, p.d, grid[c]) != p.r->c[p.d] && ++m >= kCap) break;
      }
      miss[c] = m;
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < args.threads; ++t) pool.emplace_back(work);
  for (auto& t : pool) t.join();
  std::vector<size_t> order(grid.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return miss[x] < miss[y]; });
  size_t perfect = 0;
  for (size_t i : order) perfect += miss[i] == 0;
  std::printf("fit: %zu of %zu grid models reproduce every designed probe\n", perfect, grid.size());
  // Score the perfect ones (or the 10 best) on random dot products.
  std::vector<Dot1> randoms;
  size_t total_random = 0;
  for (const Record& r : recs)
    if (!r.designed()) total_random += r.dots();
  const size_t stride = std::max<size_t>(1, total_random / std::max<size_t>(1, args.check_random));
  size_t k = 0;
  for (const Record& r : recs)
    if (!r.designed())
      for (size_t d = 0; d < r.dots(); ++d, ++k)
        if (k % stride == 0) randoms.push_back({&r, d});
  // The perfect models, then near misses (fewer mismatches than the cap),
  // at most 10 in all.
  size_t shown = 0;
  while (shown < order.size() && miss[order[shown]] < kCap && (shown < perfect || shown < 10)) ++shown;
  for (size_t i = 0; i < shown; ++i) {
    const Replay& rp = grid[order[i]];
    std::atomic<size_t> agree{0}, nxt{0};
    auto score = [&] {
      for (size_t j; (j = nxt++) < randoms.size();)
        if (Emulate(*randoms[j].r, randoms[j].d, rp) == randoms[j].r->c[randoms[j].d]) ++agree;
    };
    std::vector<std::thread> ts;
    for (unsigned t = 0; t < args.threads; ++t) ts.emplace_back(score);
    for (auto& t : ts) t.join();
    std::printf("  %-55s designed mismatches %s%zu   random %zu/%zu agree\n", Describe(rp).c_str(),
                miss[order[i]] >= kCap ? ">=" : "", miss[order[i]], agree.load(), randoms.size());
  }
  return perfect ? 0 : 1;
}

int Verify(const Args& args, const std::vector<Record>& recs) {
  std::printf("verify: %s\n", Describe(args.replay).c_str());
  using Key = std::tuple<int, std::string, uint32_t, std::string>;  // kind, dist/family, K, shape
  struct Count {
    size_t total = 0, agree = 0;
  };
  std::map<Key, Count> table;
  std::mutex mu;
  std::vector<std::string> shown;
  std::vector<Dot1> all;
  for (const Record& r : recs) {
    if (!args.only.empty() && std::find(args.only.begin(), args.only.end(), r.shape()) == args.only.end()) continue;
    for (size_t d = 0; d < r.dots(); ++d)
      if (!r.designed() || r.tags[d * 4] != 0) all.push_back({&r, d});
  }
  std::atomic<size_t> next{0};
  auto work = [&] {
    std::map<Key, Count> local;
    for (size_t i; (i = next++) < all.size();) {
      const Record& r = *all[i].r;
      const size_t d = all[i].d;
      Replay rp = args.replay;
      const auto sp = args.splits.find(r.shape());
      if (sp != args.splits.end()) rp.split = sp->second.first, rp.split_align = sp->second.second;
      const auto rt = args.residue_tiles.find(r.shape());
      if (rt != args.residue_tiles.end()) rp.residue_tile = rt->second;
      const auto mk = args.mma_ks.find(r.shape());
      if (mk != args.mma_ks.end()) rp.mma_k = mk->second;
      const uint32_t got = Emulate(r, d, rp);
      const uint32_t want = r.c[d];
      const std::string what = r.designed() ? kFamilyNames[std::min<int32_t>(r.tags[d * 4], 6)] : DistName(r.dist);
      Count& c = local[Key{static_cast<int>(r.kind), what, r.K, r.shape()}];
      ++c.total;
      if (got == want) {
        ++c.agree;
        continue;
      }
      std::lock_guard<std::mutex> lock(mu);
      if (shown.size() < args.show) {
        float fg, fw;
        std::memcpy(&fg, &got, 4);
        std::memcpy(&fw, &want, 4);
        char buf[400];
        std::snprintf(buf, sizeof buf,
                      "  %s %s dot %zu (A row %u, B row %u)%s: hardware 0x%08x (%.9g), model 0x%08x (%.9g), exact %.17g",
                      r.designed() ? "designed" : "random", r.shape().c_str(), d, r.row_a(d), r.row_b(d),
                      r.designed() ? (" tags " + std::to_string(r.tags[d * 4]) + "," + std::to_string(r.tags[d * 4 + 1]) +
                                      "," + std::to_string(r.tags[d * 4 + 2]) + "," + std::to_string(r.tags[d * 4 + 3]))
                                         .c_str()
                                   : "",
                      want, static_cast<double>(fw), got, static_cast<double>(fg), ExactF64(r, d));
        shown.push_back(buf);
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& [k, c] : local) {
      table[k].total += c.total;
      table[k].agree += c.agree;
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < args.threads; ++t) pool.emplace_back(work);
  for (auto& t : pool) t.join();
  size_t total = 0, agree = 0;
  std::printf("%-9s %-8s %6s %-16s %10s %10s\n", "kind", "what", "K", "GEMM", "dots", "agree");
  for (const auto& [k, c] : table) {
    std::printf("%-9s %-8s %6u %-16s %10zu %10zu%s\n", std::get<0>(k) == 0 ? "designed" : "random",
                std::get<1>(k).c_str(), std::get<2>(k), std::get<3>(k).c_str(), c.total, c.agree,
                c.agree == c.total ? "" : "  <-- differs");
    total += c.total;
    agree += c.agree;
  }
  for (const std::string& s : shown) std::printf("%s\n", s.c_str());
  std::printf("verify: %zu of %zu dot products agree bit for bit (%zu differ)\n", agree, total, total - agree);
  return agree == total ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = Parse(argc, argv);
  const std::vector<Record> recs = Load(args.file);
  return args.command == "fit" ? Fit(args, recs) : Verify(args, recs);
}
