// `floatscope gen OP`: TestFloat-style test vectors. Each line is what
// `floatscope verify OP` reads: the operand codes, the expected result code
// and the flags, so `gen OP | verify OP` round-trips and other
// implementations (hardware, emulators) can be checked against floatscope.
//
// Two halves, kept apart on purpose:
//   - which operands: chosen here, by classes (docs/CLI.md lists them), each
//     aimed at a way an implementation goes wrong: specials, binade edges,
//     exact midpoints between adjacent results and the operands one code
//     either side of them, overflow thresholds, the underflow and tininess
//     boundaries, cancellation, a sticky bit just below the rounding point.
//   - the expected result: always Op::apply, i.e. the one rounding core
//     (formats/round_pack.h) and emulate/arith.h. Nothing here rounds a
//     result. Operands are constructed as exact values and turned into codes
//     by the core as well (Encode below, toward zero or away from it), so
//     that "the code just below this midpoint" means the same thing for
//     every format, named or custom, float or integer.
//
// Determinism: the systematic classes use no randomness at all; the seeded
// ones draw from SplitMix64 keyed by --seed and the class name (so a class
// gives the same vectors whether it runs alone under --class or among all).
// Stochastic rounding keys element i by the line's position, as `verify`
// does, so the lines must be kept in order.
#include "cli/gen.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "cli/cli_error.h"
#include "cli/hex_codes.h"
#include "cli/int_option.h"
#include "cli/ops.h"
#include "cli/quoted.h"
#include "cli/rounding_options.h"
#include "cli/stdout_check.h"
#include "formats/round_pack.h"

namespace floatscope::cli {

namespace {

__extension__ typedef unsigned __int128 U128;

int BitLength(U128 x) {
  const auto hi = static_cast<uint64_t>(x >> 64);
  const auto lo = static_cast<uint64_t>(x);
  if (hi) return 128 - __builtin_clzll(hi);
  return lo ? 64 - __builtin_clzll(lo) : 0;
}

// An exact value sig * 2^exp, optionally "plus a hair": `sticky` stands for
// an infinitesimal that makes the magnitude a little larger, which is how
// the core's RoundPackFinite reads its sticky bit for our purposes (the
// significand here always has more bits than any format's precision, so
// "a little" never reaches a rounding boundary).
struct Exact {
  bool sign = false;
  int32_t exp = 0;
  U128 sig = 0;
  bool sticky = false;
  // Exponent of the leading bit (sig != 0).
  int32_t Top() const { return exp + BitLength(sig) - 1; }
};

Exact Times(const Exact& a, const Exact& b) { return Exact{a.sign != b.sign, a.exp + b.exp, a.sig * b.sig, false}; }

struct Encoded {
  uint64_t code;
  bool exact;
};

// The code of `f` nearest to x toward zero (away = false) or away from zero
// (away = true), from the core itself; nothing when that overflows the
// format or x has no code (a negative value in an unsigned format).
std::optional<Encoded> Encode(const Format& f, Exact x, bool away) {
  if (x.sig == 0) return std::nullopt;
  if (x.sign && IsFloat(f) && !f.is_signed) return std::nullopt;
  if (const int bl = BitLength(x.sig); bl > 64) {
    const int s = bl - 64;
    x.sticky = x.sticky || (x.sig & ((U128{1} << s) - 1)) != 0;
    x.sig >>= s;
    x.exp += s;
  }
  Options o;
  o.rounding = !away ? Rounding::kTowardZero : (x.sign ? Rounding::kDown : Rounding::kUp);
  o.overflow = Overflow::kSaturate;  // a finite answer with the overflow flag, for every format
  const Result r = RoundPackFinite(f, x.sign, x.exp, static_cast<uint64_t>(x.sig), x.sticky, o, 0);
  if (r.flags & (kOverflow | kInvalid)) return std::nullopt;
  return Encoded{r.code, (r.flags & kInexact) == 0};
}

// The exact value of a code: finite (sig != 0) or zero (sig == 0); nothing
// for NaN and infinity.
std::optional<Exact> ValueOf(const Format& f, uint64_t code) {
  const Unpacked u = Unpack(f, code);
  if (u.cls == Class::kFinite) return Exact{u.sign, u.exp, u.sig, false};
  if (u.cls == Class::kZero) return Exact{u.sign, 0, 0, false};
  return std::nullopt;
}

// Where a format's finite values lie, by binade [2^e, 2^(e+1)): binade e
// holds the values (2^Bits(e) + j) * 2^Quantum(e), j = 0..Steps(e). The
// same description serves floats (normal and subnormal binades, with or
// without subnormals or zero) and integers (quantum 1), so every class
// below is written once for all formats.
struct Grid {
  const Format* f = nullptr;
  bool negatives = false;  // negative finite values exist
  int32_t emin = 0;        // floats: the smallest normal binade
  Exact minpos;            // smallest positive value
  int32_t e_lo = 0;        // binade of minpos
  std::array<Exact, 2> max;      // largest magnitude, [0] positive, [1] negative
  std::array<int32_t, 2> e_hi{};  // their binades

  int32_t Quantum(int32_t e) const {
    if (!IsFloat(*f)) return 0;
    return (e >= emin ? e : emin) - f->mantissa_bits;
  }
  int Bits(int32_t e) const { return e - Quantum(e); }
  // Largest j in binade e on one side (Side(neg)).
  uint64_t Steps(int32_t e, int side) const {
    const int b = Bits(e);
    if (e < e_hi[side]) return (uint64_t{1} << b) - 1;
    const Exact& m = max[side];
    return static_cast<uint64_t>(m.sig << (m.exp - Quantum(e))) - (uint64_t{1} << b);
  }
  Exact Value(bool neg, int32_t e, uint64_t j) const {
    return Exact{neg, Quantum(e), (U128{1} << Bits(e)) + j, false};
  }
  // Halfway between Value(e, j) and the next value up (for j = Steps(e) of
  // the top binade: the grid point just beyond the largest finite value).
  Exact Mid(bool neg, int32_t e, uint64_t j) const {
    return Exact{neg, Quantum(e) - 1, (U128{2} << Bits(e)) + 2 * U128{j} + 1, false};
  }
  int Side(bool neg) const { return neg && negatives ? 1 : 0; }
};

Grid MakeGrid(const Format& f) {
  Grid g;
  g.f = &f;
  g.negatives = f.is_signed;
  if (IsFloat(f)) {
    const int m = f.mantissa_bits;
    g.emin = MinNormalExponent(f);
    const bool subnormals = f.has_zero && f.has_subnormals && m > 0;
    g.minpos = Exact{false, subnormals ? g.emin - m : g.emin, 1, false};
    g.max[0] = *ValueOf(f, MaxFiniteMagnitude(f));
    g.max[1] = g.max[0];
    g.max[1].sign = true;
  } else {
    g.minpos = Exact{false, 0, 1, false};
    const uint64_t mp = MaxFiniteMagnitude(f);
    g.max[0] = Exact{false, 0, mp, false};
    g.max[1] = Exact{true, 0, U128{mp} + 1, false};  // two's complement: one more below zero
  }
  g.e_lo = g.minpos.Top();
  g.e_hi[0] = g.max[0].Top();
  g.e_hi[1] = g.negatives ? g.max[1].Top() : g.e_hi[0];
  return g;
}

// Codes of one format, reached through exact values.
class Codes {
 public:
  explicit Codes(const Format& f) : f_(&f), g_(MakeGrid(f)) {}
  const Format& f() const { return *f_; }
  const Grid& g() const { return g_; }

  // The code of x when x is exactly representable.
  std::optional<uint64_t> Exactly(const Exact& x) const {
    if (x.sig == 0) return std::nullopt;
    const auto e = Encode(*f_, x, false);
    if (!e || !e->exact) return std::nullopt;
    return e->code;
  }
  // The next larger / smaller magnitude of the same sign (a zero's "next
  // larger" is the smallest value of the zero's sign).
  std::optional<uint64_t> Up(uint64_t code) const {
    const auto v = ValueOf(*f_, code);
    if (!v) return std::nullopt;
    Exact x = *v;
    if (x.sig == 0) {
      x = g_.minpos;
      x.sign = v->sign && g_.negatives;
      return Exactly(x);
    }
    x.sticky = true;
    const auto e = Encode(*f_, x, true);
    if (!e || e->code == code) return std::nullopt;
    return e->code;
  }
  std::optional<uint64_t> Down(uint64_t code) const {
    const auto v = ValueOf(*f_, code);
    if (!v || v->sig == 0) return std::nullopt;
    Exact x = *v;
    x.sig = (x.sig << 64) - 1;  // just below the value: (sig - 2^-64 + hair) * 2^exp
    x.exp -= 64;
    x.sticky = true;
    const auto e = Encode(*f_, x, false);
    if (!e || e->code == code) return std::nullopt;
    return e->code;
  }
  // The codes around a target value t: t itself and its two neighbours
  // when t is representable, else the nearest code on each side of t and
  // the next one beyond each. Ascending magnitude.
  void Near(const Exact& t, std::vector<uint64_t>* out) const {
    out->clear();
    if (t.sig == 0) return;
    const auto lo = Encode(*f_, t, false);
    const auto hi = Encode(*f_, t, true);
    auto push = [&](std::optional<uint64_t> c) {
      if (c && std::find(out->begin(), out->end(), *c) == out->end()) out->push_back(*c);
    };
    if (lo && lo->exact) {
      push(Down(lo->code));
      push(lo->code);
      push(Up(lo->code));
      return;
    }
    if (lo) {
      push(Down(lo->code));
      push(lo->code);
    }
    if (hi) {
      push(hi->code);
      push(Up(hi->code));
    }
  }
  // The same magnitude with the other sign (itself in unsigned formats).
  uint64_t Neg(uint64_t code) const {
    if (!f_->is_signed) return code;
    if (!IsFloat(*f_)) {
      const auto v = ValueOf(*f_, code);
      if (!v || v->sig == 0) return code;
      Exact x = *v;
      x.sign = !x.sign;
      return Exactly(x).value_or(code);
    }
    const uint64_t n = code ^ SignBit(*f_);
    // fnuz/P3109: -0 is the NaN; a zero stays zero.
    return (code & MagnitudeMask(*f_)) == 0 && !HasNegativeZero(*f_) ? code : n;
  }
  // Exponent of the leading bit of a finite nonzero code.
  std::optional<int32_t> TopOf(uint64_t code) const {
    const auto v = ValueOf(*f_, code);
    if (!v || v->sig == 0) return std::nullopt;
    return v->Top();
  }

  // Zeros, infinities, NaNs (quiet and signaling, with payloads), the
  // non-canonical field-0 codes of formats without subnormals, and the
  // extreme and landmark values of both signs.
  std::vector<uint64_t> Specials() const {
    const Format& f = *f_;
    std::vector<uint64_t> out;
    auto add = [&](std::optional<uint64_t> c) {
      if (c && std::find(out.begin(), out.end(), *c) == out.end()) out.push_back(*c);
    };
    if (IsFloat(f)) {
      const uint64_t sb = SignBit(f);
      const int m = f.mantissa_bits;
      switch (f.nan) {
        case NanCodes::kIeee: {
          if (m == 0) break;  // no mantissa, no NaN code
          const uint64_t top = uint64_t{MaxExponentField(f)} << m;
          const uint64_t quiet = uint64_t{1} << (m - 1);
          // quiet, quiet with payloads (all ones, all ones but the last:
          // TestFloat's), signaling, signaling with a full payload
          for (const uint64_t mant :
               {quiet, quiet | 1, MantissaMask(f), MantissaMask(f) - 1, uint64_t{1}, quiet - 1}) {
            if (mant == 0) continue;
            add(top | mant);
            if (f.is_signed) add(top | mant | sb);
          }
          break;
        }
        case NanCodes::kAllOnes:
          add(MagnitudeMask(f));
          if (f.is_signed) add(MagnitudeMask(f) | sb);
          break;
        case NanCodes::kNegativeZero: add(sb); break;
        case NanCodes::kNone: break;
      }
      if (HasInf(f)) {
        add(PositiveInfCode(f));
        if (f.is_signed) add(PositiveInfCode(f) | sb);
      }
      if (f.has_zero) {
        add(0);
        if (HasNegativeZero(f)) add(sb);
        if (!f.has_subnormals && m > 0) {  // exponent field 0, mantissa != 0: read as zero
          add(1);
          add(MantissaMask(f));
          if (HasNegativeZero(f)) add(sb | 1);
        }
      }
    } else {
      add(0);
    }
    for (const bool neg : {false, true}) {
      if (neg && !g_.negatives) break;
      Exact minpos = g_.minpos;
      minpos.sign = neg;
      const auto smallest = Exactly(minpos);
      add(smallest);
      if (smallest) add(Up(*smallest));
      if (IsFloat(f)) {
        const auto normal = Exactly(Exact{neg, g_.emin, 1, false});
        if (normal) {
          add(Down(*normal));  // largest subnormal
          add(normal);
          add(Up(*normal));
        }
      }
      const auto big = Exactly(g_.max[g_.Side(neg)]);
      if (big) {
        add(Down(*big));
        add(big);
      }
      const auto one = Exactly(Exact{neg, 0, 1, false});
      if (one) {
        add(Down(*one));
        add(one);
        add(Up(*one));
      }
      for (const Exact& x : {Exact{neg, 1, 1, false}, Exact{neg, -1, 1, false}, Exact{neg, 0, 3, false},
                             Exact{neg, -1, 3, false}})
        add(Exactly(x));
    }
    return out;
  }

 private:
  const Format* f_;
  Grid g_;
};

// SplitMix64 (Steele, Lea and Flood, 2014): a fixed sequence on every
// platform and compiler. <random>'s distributions are implementation-
// defined, so they are not used: same seed, same vectors, everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) (n > 0), by the multiply-shift map.
  uint64_t Below(uint64_t n) { return static_cast<uint64_t>((U128{Next()} * n) >> 64); }
  // Uniform in [lo, hi]; lo when the range is empty (callers clamp and
  // find it empty again).
  int32_t Between(int32_t lo, int32_t hi) {
    if (hi < lo) return lo;
    return lo + static_cast<int32_t>(Below(static_cast<uint64_t>(int64_t{hi} - lo) + 1));
  }
  bool Coin() { return (Next() >> 63) != 0; }

 private:
  uint64_t s_;
};

enum class OpKind { kConvert, kAdd, kSub, kMul, kDiv, kSqrt, kMulAdd };

// ResolveOp has accepted the name; which kind of op it is.
OpKind KindOf(std::string_view name) {
  if (name.find("_to_") != std::string_view::npos) return OpKind::kConvert;
  auto ends = [&](std::string_view s) { return name.size() > s.size() && name.substr(name.size() - s.size()) == s; };
  if (ends("_add")) return OpKind::kAdd;
  if (ends("_sub")) return OpKind::kSub;
  if (ends("_mul")) return OpKind::kMul;
  if (ends("_div")) return OpKind::kDiv;
  if (ends("_sqrt")) return OpKind::kSqrt;
  return OpKind::kMulAdd;  // _mulAdd or _fma
}

using Tuple = std::array<uint64_t, 3>;

struct TupleHash {
  size_t operator()(const Tuple& t) const {
    uint64_t h = t[0] * 0x9e3779b97f4a7c15u;
    h = (h ^ (h >> 29) ^ t[1]) * 0xbf58476d1ce4e5b9u;
    h = (h ^ (h >> 31) ^ t[2]) * 0x94d049bb133111ebu;
    return static_cast<size_t>(h ^ (h >> 32));
  }
};

// Where the classes put their operand tuples: each tuple goes on once (the
// first class to produce it keeps it), to `emit`, in order. Tuples are
// remembered for that up to kRemembered of them (every level-1 and level-2
// run of the default sizes fits); past that, with a large --random, later
// tuples are still checked against the remembered ones but no longer
// against each other, so memory stays bounded while the output streams.
class Sink {
 public:
  static constexpr size_t kRemembered = size_t{1} << 20;
  Sink(size_t operands, std::function<void(const Tuple&, size_t cls)> emit) : n_(operands), emit_(std::move(emit)) {}
  void Add(uint64_t a, uint64_t b = 0, uint64_t c = 0) {
    const Tuple t{a, n_ > 1 ? b : 0, n_ > 2 ? c : 0};
    if (seen_.size() < kRemembered) {
      if (!seen_.insert(t).second) return;
    } else if (seen_.count(t)) {
      return;
    }
    emit_(t, current);
  }
  size_t current = 0;

 private:
  size_t n_;
  std::function<void(const Tuple&, size_t)> emit_;
  std::unordered_set<Tuple, TupleHash> seen_;
};

// Everything a class needs: the op, the operand and result formats, the
// level and the random count.
struct Ctx {
  OpKind kind;
  int level;
  uint64_t random_count;
  Codes a;  // operand format (the source of a conversion)
  Codes r;  // result format
  size_t n;  // operands
};

// Which j of a binade to visit: every one while there are fewer than
// `all_below`, else `edges` from each end and `spread` evenly between.
struct PickRule {
  uint64_t all_below;
  int edges;
  int spread;
};

std::vector<uint64_t> Picks(uint64_t jmax, PickRule rule) {
  std::vector<uint64_t> js;
  if (jmax < rule.all_below) {
    for (uint64_t j = 0; j <= jmax; ++j) js.push_back(j);
    return js;
  }
  for (int k = 0; k < rule.edges; ++k) {
    js.push_back(static_cast<uint64_t>(k));
    js.push_back(jmax - static_cast<uint64_t>(k));
  }
  for (int k = 1; k <= rule.spread; ++k)
    js.push_back(static_cast<uint64_t>(U128{jmax} * static_cast<unsigned>(k) / static_cast<unsigned>(rule.spread + 1)));
  std::sort(js.begin(), js.end());
  js.erase(std::unique(js.begin(), js.end()), js.end());
  return js;
}

// TestFloat's significand patterns, for any width: single bits, runs of
// ones from the top and from the bottom, all ones with one bit clear. Bit
// positions beyond the first and last 12 are skipped for wide formats.
std::vector<uint64_t> Patterns(uint64_t jmax, int bits) {
  std::vector<uint64_t> js{0, jmax};
  for (int i = 0; i < bits; ++i) {
    if (i >= 12 && i < bits - 12) continue;
    const uint64_t bit = uint64_t{1} << i;
    const uint64_t all = (uint64_t{1} << bits) - 1;
    for (const uint64_t j : {bit, bit - 1, all - bit, all & ~(bit - 1)})
      if (j <= jmax) js.push_back(j);
  }
  std::sort(js.begin(), js.end());
  js.erase(std::unique(js.begin(), js.end()), js.end());
  return js;
}

// Binades that hold the interesting edges: near the smallest value, the
// smallest normal, one, the largest value, and `extra` (another format's
// edges, for conversions).
bool Important(const Grid& g, int32_t e, std::initializer_list<int32_t> extra = {}) {
  auto near = [&](int32_t x) { return e >= x - 3 && e <= x + 3; };
  if (near(g.e_lo) || near(g.emin) || near(0) || near(g.e_hi[0]) || near(g.e_hi[1])) return true;
  for (const int32_t x : extra)
    if (near(x)) return true;
  return false;
}

// A random j in a binade: uniform, or with trailing zeros (exact sums and
// products), trailing ones (carries), or an edge.
uint64_t RandomJ(Rng& rng, uint64_t jmax, int bits) {
  switch (rng.Below(4)) {
    case 0: return rng.Below(jmax + 1);
    case 1: {
      const int k = static_cast<int>(rng.Below(static_cast<uint64_t>(bits) + 1));
      return k >= 64 ? 0 : (rng.Below(jmax + 1) >> k) << k;
    }
    case 2: {
      const int k = static_cast<int>(rng.Below(static_cast<uint64_t>(bits) + 1));
      return std::min(jmax, rng.Below(jmax + 1) | ((uint64_t{1} << k) - 1));
    }
    default: {
      const uint64_t edges[4] = {0, 1, jmax - 1, jmax};
      return std::min(jmax, edges[rng.Below(4)]);
    }
  }
}

enum class SignMode { kPositive, kNegative, kRandom };

// A random finite code with its leading bit in [elo, ehi] (clamped to the
// format), or nothing when that range is empty.
std::optional<uint64_t> RandomCode(const Codes& c, Rng& rng, int32_t elo, int32_t ehi, SignMode sm,
                                   bool short_sig = false) {
  const Grid& g = c.g();
  bool neg = sm == SignMode::kNegative || (sm == SignMode::kRandom && rng.Coin());
  if (!g.negatives) neg = false;
  elo = std::max(elo, g.e_lo);
  ehi = std::min(ehi, g.e_hi[g.Side(neg)]);
  if (elo > ehi) return std::nullopt;
  const int32_t e = rng.Between(elo, ehi);
  const uint64_t jmax = g.Steps(e, g.Side(neg));
  const int bits = g.Bits(e);
  uint64_t j = RandomJ(rng, jmax, bits);
  if (short_sig) {
    // At most about half the precision: products of two such are exact.
    const int keep = (c.f().mantissa_bits + 1) / 2 - 1;  // <= p/2 significant bits
    const int drop = std::max(0, bits - keep);
    j = (j >> drop) << drop;
  }
  return c.Exactly(g.Value(neg, e, j));
}

struct ClassSpec {
  const char* name;
  bool seeded;
  const char* what;
  void (*run)(const Ctx&, Rng&, Sink&);
};

// ---- conversions ------------------------------------------------------------

// The binades of the destination that the source can reach (two beyond its
// range either way, where everything overflows or underflows alike).
bool Reachable(const Ctx& c, bool neg, int32_t e) {
  const Grid& s = c.a.g();
  return e >= s.e_lo - 2 && e <= s.e_hi[s.Side(neg)] + 1;
}

std::vector<bool> SourceSigns(const Ctx& c) {
  if (c.a.g().negatives) return {false, true};
  return {false};
}

void AddNear(const Ctx& c, const Exact& t, Sink& sink) {
  std::vector<uint64_t> codes;
  c.a.Near(t, &codes);
  for (const uint64_t x : codes) sink.Add(x);
}

void ConvAllCodes(const Ctx& c, Rng&, Sink& sink) {
  for (uint64_t x = 0; x <= CodeMask(c.a.f()); ++x) sink.Add(x);
}

void ConvSpecials(const Ctx& c, Rng&, Sink& sink) {
  for (const uint64_t x : c.a.Specials()) sink.Add(x);
}

void ConvOverflow(const Ctx& c, Rng&, Sink& sink) {
  const Grid& d = c.r.g();
  for (const bool neg : SourceSigns(c)) {
    const int side = d.Side(neg);
    const int32_t e = d.e_hi[side];
    const uint64_t jmax = d.Steps(e, side);
    Exact top = d.max[side];
    top.sign = neg;
    AddNear(c, top, sink);                   // the largest finite value
    AddNear(c, d.Mid(neg, e, jmax), sink);   // the overflow threshold of round-to-nearest
    AddNear(c, d.Value(neg, e, jmax + 1), sink);  // the first grid point beyond it
    if (jmax > 0) AddNear(c, d.Mid(neg, e, jmax - 1), sink);
  }
}

void ConvUnderflow(const Ctx& c, Rng&, Sink& sink) {
  const Grid& d = c.r.g();
  const int p = c.r.f().mantissa_bits + 1;
  for (const bool neg : SourceSigns(c)) {
    Exact mp = d.minpos;
    mp.sign = neg;
    AddNear(c, Exact{neg, mp.exp - 1, 1, false}, sink);  // half the smallest value: the tie to zero
    AddNear(c, Exact{neg, mp.exp - 2, 1, false}, sink);  // a quarter
    AddNear(c, Exact{neg, mp.exp - 2, 3, false}, sink);  // three quarters
    AddNear(c, mp, sink);
    AddNear(c, d.Mid(neg, d.e_lo, 0), sink);
    if (d.emin > d.e_lo) {  // subnormals: the step to the normal range
      AddNear(c, d.Mid(neg, d.emin - 1, d.Steps(d.emin - 1, d.Side(neg))), sink);
    }
    AddNear(c, Exact{neg, d.emin, 1, false}, sink);
    // Tininess after rounding: from 2^emin - 2^(emin-p-1) up, the value
    // rounded to p bits with an unbounded exponent is 2^emin (not tiny).
    AddNear(c, Exact{neg, d.emin - p - 1, (U128{1} << (p + 1)) - 1, false}, sink);
  }
}

PickRule DstRule(const Ctx& c, bool important) {
  if (c.level == 1) return important ? PickRule{16, 3, 2} : PickRule{2, 1, 0};
  return important ? PickRule{1024, 3, 62} : PickRule{16, 2, 6};
}

template <bool kMidpoints>
void ConvDst(const Ctx& c, Rng&, Sink& sink) {
  const Grid& d = c.r.g();
  const Grid& s = c.a.g();
  const bool many = d.e_hi[0] - d.e_lo > 48;
  for (const bool neg : SourceSigns(c)) {
    const int side = d.Side(neg);
    for (int32_t e = d.e_lo; e <= d.e_hi[side]; ++e) {
      if (!Reachable(c, neg, e)) continue;
      const bool important = !many || Important(d, e, {s.e_lo, s.e_hi[0]});
      for (const uint64_t j : Picks(d.Steps(e, side), DstRule(c, important)))
        AddNear(c, kMidpoints ? d.Mid(neg, e, j) : d.Value(neg, e, j), sink);
    }
  }
}

// Whether the grid and midpoints classes visit every result value (small
// float formats), leaving nothing for random-midpoints to add.
bool DstEnumerated(const Ctx& c) {
  const Grid& d = c.r.g();
  if (!IsFloat(c.r.f()) || d.e_hi[0] - d.e_lo > 48) return false;
  return (uint64_t{1} << c.r.f().mantissa_bits) - 1 < DstRule(c, true).all_below;
}

void ConvBinades(const Ctx& c, Rng&, Sink& sink) {
  const Grid& s = c.a.g();
  const bool many = s.e_hi[0] - s.e_lo > 300;
  for (const bool neg : SourceSigns(c)) {
    const int side = s.Side(neg);
    for (int32_t e = s.e_lo; e <= s.e_hi[side]; ++e) {
      // Level 1: TestFloat's significands (0, 1, max - 1, max) in every
      // binade; level 2 adds more where it matters.
      const bool important = !many || Important(s, e);
      PickRule rule{4, 2, 0};
      if (c.level == 2) rule = important ? PickRule{64, 3, 6} : PickRule{8, 3, 0};
      for (const uint64_t j : Picks(s.Steps(e, side), rule))
        if (const auto x = c.a.Exactly(s.Value(neg, e, j))) sink.Add(*x);
    }
  }
}

void ConvRandomTargets(const Ctx& c, Rng& rng, Sink& sink) {
  const Grid& d = c.r.g();
  const std::vector<bool> signs = SourceSigns(c);
  const int iterations = c.level == 1 ? 400 : 4000;
  for (int i = 0; i < iterations; ++i) {
    const bool neg = signs[rng.Below(signs.size())];
    const int side = d.Side(neg);
    const int32_t e = rng.Between(d.e_lo, d.e_hi[side]);
    if (!Reachable(c, neg, e)) continue;
    const uint64_t j = rng.Below(d.Steps(e, side) + 1);
    AddNear(c, d.Mid(neg, e, j), sink);
    AddNear(c, d.Value(neg, e, j), sink);
  }
}

void ConvRandom(const Ctx& c, Rng& rng, Sink& sink) {
  const Grid& d = c.r.g();
  for (uint64_t i = 0; i < c.random_count; ++i) {
    if (i % 2 == 0) {  // any bit pattern
      sink.Add(rng.Next() & CodeMask(c.a.f()));
      continue;
    }
    // A source value in or near the destination's range.
    if (const auto x = RandomCode(c.a, rng, d.e_lo - 2, std::max(d.e_hi[0], d.e_hi[1]) + 2, SignMode::kRandom))
      sink.Add(*x);
  }
}

// ---- arithmetic -------------------------------------------------------------

// The binades that TestFloat's generator visits (its exponents -p, -2..2,
// p, the extremes), for any format.
std::vector<int32_t> KeyBinades(const Grid& g, int p) {
  std::vector<int32_t> xs;
  for (const int32_t e : {g.e_lo, g.e_lo + 1, g.emin - 1, g.emin, g.emin + 1, -p, -2, -1, 0, 1, 2, p,
                          g.e_hi[0] - 1, g.e_hi[0]})
    if (e >= g.e_lo && e <= g.e_hi[0]) xs.push_back(e);
  std::sort(xs.begin(), xs.end());
  xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
  return xs;
}

int Precision(const Ctx& c) { return c.a.f().mantissa_bits + 1; }

// Specials plus every key binade's values at `rule`'s j's, both signs.
std::vector<uint64_t> KeyValues(const Ctx& c, bool patterns, PickRule rule) {
  std::vector<uint64_t> q = c.a.Specials();
  const Grid& g = c.a.g();
  for (const int32_t e : KeyBinades(g, Precision(c))) {
    for (const bool neg : {false, true}) {
      if (neg && !g.negatives) break;
      const uint64_t jmax = g.Steps(e, g.Side(neg));
      for (const uint64_t j : patterns ? Patterns(jmax, g.Bits(e)) : Picks(jmax, rule))
        if (const auto x = c.a.Exactly(g.Value(neg, e, j)))
          if (std::find(q.begin(), q.end(), *x) == q.end()) q.push_back(*x);
    }
  }
  return q;
}

std::vector<uint64_t> Q1(const Ctx& c) { return KeyValues(c, false, PickRule{4, 2, 0}); }

void ArAllCodes(const Ctx& c, Rng&, Sink& sink) {
  const uint64_t n = CodeMask(c.a.f()) + 1;
  if (c.n == 1)
    for (uint64_t a = 0; a < n; ++a) sink.Add(a);
  else if (c.n == 2)
    for (uint64_t a = 0; a < n; ++a)
      for (uint64_t b = 0; b < n; ++b) sink.Add(a, b);
  else
    for (uint64_t a = 0; a < n; ++a)
      for (uint64_t b = 0; b < n; ++b)
        for (uint64_t x = 0; x < n; ++x) sink.Add(a, b, x);
}

void ArSpecials(const Ctx& c, Rng&, Sink& sink) {
  const std::vector<uint64_t> sp = c.a.Specials();
  if (c.n == 1) {
    for (const uint64_t a : sp) sink.Add(a);
  } else if (c.n == 2) {
    for (const uint64_t a : sp)
      for (const uint64_t b : sp) sink.Add(a, b);
  } else {
    // Every pair of specials with eight addends, spread over the list.
    size_t i = 0;
    for (const uint64_t a : sp)
      for (const uint64_t b : sp) {
        for (size_t k = 0; k < 8; ++k) sink.Add(a, b, sp[(i * 7 + k * 5) % sp.size()]);
        ++i;
      }
  }
}

void ArBinades(const Ctx& c, Rng&, Sink& sink) {
  const Grid& g = c.a.g();
  if (c.n == 1) {
    // Every binade: TestFloat's significands 0, 1, max - 1, max (level 2:
    // its patterns in the key binades).
    const bool many = g.e_hi[0] - g.e_lo > 300;
    for (const bool neg : {false, true}) {
      if (neg && !g.negatives) break;
      for (int32_t e = g.e_lo; e <= g.e_hi[g.Side(neg)]; ++e) {
        const uint64_t jmax = g.Steps(e, g.Side(neg));
        const bool important = !many || Important(g, e);
        std::vector<uint64_t> js;
        if (c.level == 2 && important) js = Patterns(jmax, g.Bits(e));
        else js = Picks(jmax, PickRule{4, 2, 0});
        for (const uint64_t j : js)
          if (const auto x = c.a.Exactly(g.Value(neg, e, j))) sink.Add(*x);
      }
    }
    return;
  }
  if (c.n == 2) {
    const std::vector<uint64_t> q1 = Q1(c);
    if (c.level == 1) {
      for (const uint64_t a : q1)
        for (const uint64_t b : q1) sink.Add(a, b);
      return;
    }
    const std::vector<uint64_t> q2 = KeyValues(c, true, {});
    for (const uint64_t a : q1)
      for (const uint64_t b : q2) sink.Add(a, b);
    for (const uint64_t a : q2)
      for (const uint64_t b : q1) sink.Add(a, b);
    return;
  }
  // mulAdd: every pair of key values, each with addends spread over the
  // list (one at level 1, sixteen at level 2).
  const std::vector<uint64_t> q = Q1(c);
  const size_t per = c.level == 1 ? 1 : 16;
  size_t i = 0;
  for (const uint64_t a : q)
    for (const uint64_t b : q) {
      for (size_t k = 0; k < per; ++k) sink.Add(a, b, q[(i * 7 + k * 13) % q.size()]);
      ++i;
    }
}

// Exact ties and their neighbours, built without randomness:
//   add/sub: a key value plus 1/2 and 3/2 of its last place;
//   mul: (1 + 2^-j)(1 + 2^-k) with j + k = p, whose last bit is half an
//        ulp, at products in the normal, top and subnormal ranges; and
//        2^x * 2^y at half the smallest subnormal;
//   mulAdd: 2^x * b exactly, plus half an ulp of it or minus all of it.
void ArTies(const Ctx& c, Rng&, Sink& sink) {
  const Grid& g = c.a.g();
  const int p = Precision(c);
  const int m = p - 1;
  std::vector<uint64_t> near;
  if (c.kind == OpKind::kAdd || c.kind == OpKind::kSub) {
    for (const uint64_t a : Q1(c)) {
      const auto top = c.a.TopOf(a);
      if (!top) continue;
      const int32_t q = g.Quantum(*top);
      for (const bool neg : {false, true}) {
        if (neg && !g.negatives) break;
        for (const unsigned k : {1u, 3u}) {
          c.a.Near(Exact{neg, q - 1, k, false}, &near);
          for (const uint64_t b : near) sink.Add(a, c.kind == OpKind::kSub ? c.a.Neg(b) : b);
        }
      }
    }
    return;
  }
  const std::vector<int32_t> keys = KeyBinades(g, p);
  if (c.kind == OpKind::kMul) {
    std::vector<int> js;
    for (int j = 1; j <= m; ++j)
      if (m <= 16 || j <= 3 || j >= m - 2 || j == m / 2) js.push_back(j);
    for (const int32_t ea : keys) {
      for (const int j : js) {
        const int k = p - j;
        if (k < 1 || k > m) continue;
        const auto a = c.a.Exactly(Exact{false, ea - j, (U128{1} << j) + 1, false});
        if (!a) continue;
        for (const int32_t t : {0, g.emin, g.e_hi[0], g.emin - m / 2}) {
          const int32_t eb = t - ea;
          if (eb < g.e_lo || eb > g.e_hi[0]) continue;
          c.a.Near(Exact{false, eb - k, (U128{1} << k) + 1, false}, &near);
          for (const uint64_t b : near) {
            sink.Add(*a, b);
            sink.Add(c.a.Neg(*a), b);
          }
        }
      }
      // 2^x * 2^y = half (and three quarters) of the smallest value.
      const auto a = c.a.Exactly(Exact{false, ea, 1, false});
      const int32_t y = g.e_lo - 1 - ea;
      if (!a || y < g.e_lo || y > g.e_hi[0]) continue;
      for (const unsigned s : {1u, 3u}) {
        c.a.Near(Exact{false, s == 1 ? y : y - 1, s, false}, &near);
        for (const uint64_t b : near) sink.Add(*a, b);
      }
    }
    return;
  }
  // mulAdd
  const std::vector<uint64_t> q1 = Q1(c);
  for (const int32_t ea : keys) {
    const auto a = c.a.Exactly(Exact{false, ea, 1, false});
    if (!a) continue;
    for (const uint64_t b : q1) {
      const auto vb = ValueOf(c.a.f(), b);
      if (!vb || vb->sig == 0) continue;
      const Exact prod = Times(Exact{false, ea, 1, false}, *vb);
      if (!c.a.Exactly(prod)) continue;
      const int32_t q = g.Quantum(prod.Top());
      for (const bool neg : {false, true}) {
        if (neg && !g.negatives) break;
        c.a.Near(Exact{neg, q - 1, 1, false}, &near);
        for (const uint64_t x : near) sink.Add(*a, b, x);
      }
      Exact minus = prod;
      minus.sign = !minus.sign;
      c.a.Near(minus, &near);
      for (const uint64_t x : near) sink.Add(*a, b, x);
    }
  }
}

int Iterations(const Ctx& c) { return c.level == 1 ? 500 : 5000; }

constexpr SignMode kAnySign = SignMode::kRandom;

// Two random codes whose leading bits add (or subtract, `quotient`) to t.
bool PairFor(const Ctx& c, Rng& rng, int32_t t, bool quotient, uint64_t* a, uint64_t* b, bool short_sig = false) {
  const Grid& g = c.a.g();
  // eb such that ea = t - eb (product) or t + eb (quotient) is a binade.
  const int32_t lo = quotient ? std::max(g.e_lo, g.e_lo - t) : std::max(g.e_lo, t - g.e_hi[0]);
  const int32_t hi = quotient ? std::min(g.e_hi[0], g.e_hi[0] - t) : std::min(g.e_hi[0], t - g.e_lo);
  if (lo > hi) return false;
  const int32_t eb = rng.Between(lo, hi);
  const int32_t ea = quotient ? t + eb : t - eb;
  const auto x = RandomCode(c.a, rng, ea, ea, kAnySign, short_sig);
  const auto y = RandomCode(c.a, rng, eb, eb, kAnySign, short_sig);
  if (!x || !y) return false;
  *a = *x;
  *b = *y;
  return true;
}

void ArCancellation(const Ctx& c, Rng& rng, Sink& sink) {
  const Grid& g = c.a.g();
  std::vector<uint64_t> near;
  for (int i = 0; i < Iterations(c); ++i) {
    if (c.kind == OpKind::kMulAdd) {
      uint64_t a, b;
      if (!PairFor(c, rng, rng.Between(g.e_lo, g.e_hi[0]), false, &a, &b)) continue;
      Exact prod = Times(*ValueOf(c.a.f(), a), *ValueOf(c.a.f(), b));
      prod.sign = !prod.sign;
      c.a.Near(prod, &near);
      for (const uint64_t x : near) sink.Add(a, b, x);
      continue;
    }
    const auto a = RandomCode(c.a, rng, g.e_lo, g.e_hi[0], kAnySign);
    if (!a) continue;
    std::vector<uint64_t> bs{*a};
    if (const auto u = c.a.Up(*a)) {
      bs.push_back(*u);
      if (const auto uu = c.a.Up(*u)) bs.push_back(*uu);
    }
    if (const auto d = c.a.Down(*a)) bs.push_back(*d);
    const bool neg = ValueOf(c.a.f(), *a)->sign;
    const int32_t top = *c.a.TopOf(*a);
    if (const auto d = RandomCode(c.a, rng, top - 1, top - 1, neg ? SignMode::kNegative : SignMode::kPositive))
      bs.push_back(*d);
    for (const uint64_t b : bs) sink.Add(*a, c.kind == OpKind::kAdd ? c.a.Neg(b) : b);
  }
}

// The smaller term's leading bit just around the last place of the larger
// one: what it adds is all sticky bit, or a round bit and a sticky bit.
void ArSticky(const Ctx& c, Rng& rng, Sink& sink) {
  const Grid& g = c.a.g();
  const int p = Precision(c);
  for (int i = 0; i < Iterations(c); ++i) {
    if (c.kind == OpKind::kMulAdd) {
      uint64_t a, b;
      if (!PairFor(c, rng, rng.Between(g.e_lo, g.e_hi[0]), false, &a, &b)) continue;
      const Exact prod = Times(*ValueOf(c.a.f(), a), *ValueOf(c.a.f(), b));
      const int32_t d = rng.Between(p - 1, 2 * p + 1);
      if (rng.Coin()) {  // addend below the product
        if (const auto x = RandomCode(c.a, rng, prod.Top() - d, prod.Top() - d, kAnySign)) sink.Add(a, b, *x);
      } else {  // product below the addend
        if (const auto x = RandomCode(c.a, rng, prod.Top() + d, prod.Top() + d, kAnySign)) sink.Add(a, b, *x);
      }
      continue;
    }
    const auto a = RandomCode(c.a, rng, g.e_lo, g.e_hi[0], kAnySign);
    if (!a) continue;
    const int32_t top = *c.a.TopOf(*a);
    const int32_t d = rng.Between(p - 2, p + 3);
    if (const auto b = RandomCode(c.a, rng, top - d, top - d, kAnySign)) {
      if (rng.Coin()) sink.Add(*a, *b);
      else sink.Add(*b, *a);
    }
  }
}

void ArOverflowUnderflow(const Ctx& c, Rng& rng, Sink& sink, bool over) {
  const Grid& g = c.a.g();
  const int p = Precision(c);
  std::vector<uint64_t> near;
  // Exponent of the exact result to aim at.
  auto target = [&]() { return over ? rng.Between(g.e_hi[0] - 1, g.e_hi[0] + 1) : rng.Between(g.e_lo - 2, g.emin + 1); };
  for (int i = 0; i < Iterations(c); ++i) {
    switch (c.kind) {
      case OpKind::kAdd:
      case OpKind::kSub: {
        if (over) {
          // The largest values plus a little: half an ulp of max is the
          // threshold of round-to-nearest.
          const bool neg = g.negatives && rng.Coin();
          auto a = c.a.Exactly(g.max[g.Side(neg)]);
          for (uint64_t k = rng.Below(3); a && k > 0; --k) a = c.a.Down(*a);
          if (!a) continue;
          const int32_t q = g.Quantum(g.e_hi[0]);
          c.a.Near(Exact{neg, q - 1, 1, false}, &near);
          if (const auto b = RandomCode(c.a, rng, g.e_hi[0] - static_cast<int32_t>(rng.Below(static_cast<uint64_t>(p) + 2)),
                                        g.e_hi[0], neg ? SignMode::kNegative : SignMode::kPositive))
            near.push_back(*b);
          for (const uint64_t b : near) sink.Add(*a, c.kind == OpKind::kSub ? c.a.Neg(b) : b);
        } else {
          const auto a = RandomCode(c.a, rng, g.e_lo, g.emin + 1, kAnySign);
          const auto b = RandomCode(c.a, rng, g.e_lo, g.emin + 1, kAnySign);
          if (a && b) sink.Add(*a, *b);
        }
        break;
      }
      case OpKind::kMul:
      case OpKind::kDiv: {
        uint64_t a, b;
        if (PairFor(c, rng, target(), c.kind == OpKind::kDiv, &a, &b)) sink.Add(a, b);
        break;
      }
      case OpKind::kMulAdd: {
        uint64_t a, b;
        if (!PairFor(c, rng, target(), false, &a, &b)) break;
        const auto x = over ? RandomCode(c.a, rng, g.e_hi[0] - p - 1, g.e_hi[0], kAnySign)
                            : RandomCode(c.a, rng, g.e_lo, g.emin + 1, kAnySign);
        if (x) sink.Add(a, b, *x);
        break;
      }
      default: break;
    }
  }
}

void ArOverflow(const Ctx& c, Rng& rng, Sink& sink) { ArOverflowUnderflow(c, rng, sink, true); }
void ArUnderflow(const Ctx& c, Rng& rng, Sink& sink) { ArOverflowUnderflow(c, rng, sink, false); }

// mul: a * b exactly representable (short significands), b and its
// neighbours; div: a = b * c exactly (then a's neighbours: quotients a hair
// off a representable value); sqrt: a = c^2 exactly, and its neighbours.
void ArExact(const Ctx& c, Rng& rng, Sink& sink) {
  const Grid& g = c.a.g();
  std::vector<uint64_t> near;
  for (int i = 0; i < Iterations(c); ++i) {
    if (c.kind == OpKind::kMul) {
      uint64_t a, b;
      if (!PairFor(c, rng, rng.Between(g.e_lo, g.e_hi[0]), false, &a, &b, true)) continue;
      c.a.Near(*ValueOf(c.a.f(), b), &near);
      for (const uint64_t x : near) sink.Add(a, x);
    } else if (c.kind == OpKind::kDiv) {
      uint64_t b, q;
      if (!PairFor(c, rng, rng.Between(g.e_lo, g.e_hi[0]), false, &b, &q, true)) continue;
      c.a.Near(Times(*ValueOf(c.a.f(), b), *ValueOf(c.a.f(), q)), &near);
      for (const uint64_t a : near) sink.Add(a, b);
    } else {
      const auto r = RandomCode(c.a, rng, (g.e_lo + 1) / 2, g.e_hi[0] / 2, SignMode::kPositive, true);
      if (!r) continue;
      const Exact v = *ValueOf(c.a.f(), *r);
      c.a.Near(Times(v, v), &near);
      for (const uint64_t a : near) sink.Add(a);
    }
  }
}

// 1/x modulo 2^64 for odd x (Newton's iteration: each step doubles the
// correct low bits, from 3).
uint64_t InverseMod64(uint64_t x) {
  uint64_t inv = x;
  for (int i = 0; i < 5; ++i) inv *= 2 - x * inv;
  return inv;
}

// An odd x with x^2 = r modulo 2^n, for r = 1 modulo 8 (Hensel lifting:
// fix bit k of x^2 - r by adding 2^(k-1)).
uint64_t SqrtMod2(int64_t r, int n) {
  uint64_t x = 1;
  for (int k = 3; k < n; ++k)
    if (static_cast<uint64_t>((U128{x} * x - static_cast<U128>(static_cast<__int128>(r))) >> k) & 1)
      x += uint64_t{1} << (k - 1);
  return x;
}

// Quotients and roots a hair from a midpoint, the hardest cases to round
// (they are never exactly one: a quotient or root of p-bit numbers is not a
// (p+1)-bit midpoint). With T the odd (p+1)-bit significand of a midpoint
// and a small r != 0:
//   div:  b = r / T modulo 2^(p+1), a = (b T - r) / 2^(p+1), both of at
//         most p bits; then a / b = (T - r/b) / 2^(p+1): the midpoint minus
//         r/b of its last place, |r/b| < 2^(2-p) or so;
//   sqrt: T with T^2 = r modulo 2^(p+2) (r = 1 mod 8), a = (T^2 - r) /
//         2^(p+2); then sqrt(a) is the midpoint T minus about r / 2T.
// Exponents put the result in a random normal binade.
void ArNearTies(const Ctx& c, Rng& rng, Sink& sink) {
  const Grid& g = c.a.g();
  const int p = Precision(c);
  const int half = std::max(1, p / 2);
  // Half of the candidates fail a size check: try until enough are made.
  for (int made = 0, tries = 0; made < Iterations(c) && tries < 8 * Iterations(c); ++tries) {
    if (c.kind == OpKind::kDiv) {
      const int n = p + 1;
      const uint64_t mask = (uint64_t{1} << n) - 1;
      const uint64_t t = (uint64_t{1} << p) | rng.Below(uint64_t{1} << p) | 1;
      int64_t r = rng.Between(1, 8);
      if (rng.Coin()) r = -r;
      // b of full precision, so that r/b stays below 2^(4-p).
      const uint64_t bsig = (static_cast<uint64_t>(r) * InverseMod64(t)) & mask;
      if (bsig >> p || bsig < (uint64_t{1} << (p - 1))) continue;
      const U128 num = U128{bsig} * t - static_cast<U128>(static_cast<__int128>(r));
      const auto asig = static_cast<uint64_t>(num >> n);
      if (asig == 0 || asig >> p) continue;
      // a/b = T 2^(ea - eb - n) must be T 2^(et - p): ea = eb + et + 1.
      const int32_t et = rng.Between(g.emin, g.e_hi[0] - 1);  // the quotient's binade
      const int32_t btop = rng.Between(std::max(g.e_lo, g.e_lo - et + 1), std::min(g.e_hi[0], g.e_hi[0] - et - 1));
      const int32_t eb = btop - (BitLength(bsig) - 1);
      const auto a = c.a.Exactly(Exact{g.negatives && rng.Coin(), eb + et + 1, asig, false});
      const auto b = c.a.Exactly(Exact{g.negatives && rng.Coin(), eb, bsig, false});
      if (!a || !b) continue;
      sink.Add(*a, *b);
      ++made;
    } else {
      // r = 1 mod 8 up to about 2^(p/2): sqrt(a) is within r / 4T < 2^(-p/2)
      // of a last place from the midpoint.
      const int n = p + 2;
      const int64_t k = rng.Between(-(1 << half) / 8, (1 << half) / 8);
      const int64_t r = 1 + 8 * k;
      const uint64_t x = SqrtMod2(r, n) & ((uint64_t{1} << (p + 1)) - 1);
      const uint64_t t = std::max(x, (uint64_t{1} << (p + 1)) - x);  // odd, p+1 bits
      const auto asig = static_cast<uint64_t>((U128{t} * t - static_cast<U128>(static_cast<__int128>(r))) >> n);
      // sqrt(a) = T 2^((ea - n)/2) must be T 2^(e - p): ea = 2e - p + 2.
      const int32_t e = rng.Between((g.e_lo + 3) / 2, g.e_hi[0] / 2 - 1);
      const auto a = c.a.Exactly(Exact{false, 2 * e - p + 2, asig, false});
      if (!a) continue;
      sink.Add(*a);
      ++made;
    }
  }
}

void ArRandom(const Ctx& c, Rng& rng, Sink& sink) {
  const Grid& g = c.a.g();
  const std::vector<uint64_t> sp = c.a.Specials();
  auto operand = [&]() -> uint64_t {
    const uint64_t k = rng.Below(8);
    if (k < 2) return rng.Next() & CodeMask(c.a.f());
    if (k == 2) return sp[rng.Below(sp.size())];
    return RandomCode(c.a, rng, g.e_lo, g.e_hi[0], kAnySign).value_or(0);
  };
  for (uint64_t i = 0; i < c.random_count; ++i) {
    const uint64_t a = operand();
    const uint64_t b = c.n > 1 ? operand() : 0;
    const uint64_t x = c.n > 2 ? operand() : 0;
    sink.Add(a, b, x);
  }
}

// ---- the class lists --------------------------------------------------------

// Whether every operand tuple fits in the output: sources of at most 16
// bits (every code), binary ops on at most 8 bits (every pair), mulAdd on
// at most 4 bits, or 6 at level 2 (every triple).
bool Exhaustive(const Ctx& c) {
  const int bits = c.a.f().bits;
  if (c.n == 1) return bits <= 16;
  if (c.n == 2) return bits <= 8;
  return bits <= (c.level == 1 ? 4 : 6);
}

std::vector<ClassSpec> ClassesFor(const Ctx& c) {
  std::vector<ClassSpec> v;
  if (Exhaustive(c)) {
    v.push_back({"all-codes", false, "every operand code (every pair, every triple)",
                 c.kind == OpKind::kConvert ? ConvAllCodes : ArAllCodes});
    return v;
  }
  if (c.kind == OpKind::kConvert) {
    v.push_back({"specials", false, "source zeros, infinities, NaNs, extreme and landmark values", ConvSpecials});
    v.push_back({"overflow", false, "around the largest result, the overflow threshold and the grid point beyond",
                 ConvOverflow});
    if (IsFloat(c.r.f()))  // integers: the midpoints class holds +-0.5
      v.push_back({"underflow", false,
                 "around half and a quarter of the smallest result, the subnormal/normal step, the tininess boundary",
                 ConvUnderflow});
    v.push_back({"grid", false, "around result values (exact conversions and their neighbours), every result binade",
                 ConvDst<false>});
    v.push_back({"midpoints", false, "around exact midpoints between adjacent results, every result binade",
                 ConvDst<true>});
    v.push_back({"binades", false, "source binade edges (first, second, last codes), every source binade", ConvBinades});
    if (!DstEnumerated(c))
      v.push_back({"random-midpoints", true, "around random result values and midpoints", ConvRandomTargets});
    v.push_back({"random", true, "random source codes: any bit pattern, or a value in the result's range", ConvRandom});
    return v;
  }
  v.push_back({"specials", false, "specials and landmark values, every combination", ArSpecials});
  v.push_back({"binades", false, "TestFloat's grid: key binades x significand patterns, every combination", ArBinades});
  switch (c.kind) {
    case OpKind::kAdd:
    case OpKind::kSub:
    case OpKind::kMul:
    case OpKind::kMulAdd:
      v.push_back({"ties", false, "exact midpoints of the result and their neighbours", ArTies});
      break;
    default: break;
  }
  switch (c.kind) {
    case OpKind::kDiv:
    case OpKind::kSqrt:
      v.push_back({"exact", true, "exact results and operands one code off them", ArExact});
      v.push_back({"near-ties", true, "results within a hair of a midpoint", ArNearTies});
      break;
    case OpKind::kMul:
      v.push_back({"exact", true, "exact products and operands one code off them", ArExact});
      break;
    default:
      v.push_back({"cancellation", true, "operands that cancel: equal, adjacent, one binade apart", ArCancellation});
      break;
  }
  if (c.kind == OpKind::kAdd || c.kind == OpKind::kSub || c.kind == OpKind::kMulAdd)
    v.push_back({"sticky", true, "smaller term around the last place of the larger: round and sticky bits", ArSticky});
  if (c.kind != OpKind::kSqrt) {
    v.push_back({"overflow", true, "operands whose exact result lies around the largest value", ArOverflow});
    v.push_back({"underflow", true, "operands whose exact result lies around the subnormal range", ArUnderflow});
  }
  v.push_back({"random", true, "random operands: bit patterns, specials, values with patterned significands",
               ArRandom});
  return v;
}

// Each class draws from its own stream: seed and class name.
uint64_t ClassSeed(uint64_t seed, std::string_view name) {
  uint64_t h = 0xcbf29ce484222325u;  // FNV-1a of the name
  for (const char ch : name) h = (h ^ static_cast<unsigned char>(ch)) * 0x100000001b3u;
  Rng mix(seed ^ h);
  return mix.Next();
}

struct Session {
  RoundingFlags flags;
  std::string op_name;
  int level = 1;
  uint64_t random_count = 0;
  CLI::Option *random_opt = nullptr, *seed_opt = nullptr;
  std::vector<std::string> classes;
  bool list = false;
};

void RunGen(const Session& s) {
  const Op op = ResolveOp(s.op_name);
  const Options opt = ResolveOptions(s.flags, *op.result);
  const OpKind kind = KindOf(op.name);
  Ctx c{kind, s.level, 0, Codes(*op.operands[0]), Codes(*op.result), op.operands.size()};
  const uint64_t default_random = (c.n == 1 ? 10000u : 5000u) * (s.level == 1 ? 1u : 10u);
  c.random_count = s.random_opt->count() ? s.random_count : default_random;
  const std::vector<ClassSpec> classes = ClassesFor(c);

  std::vector<bool> chosen(classes.size(), s.classes.empty());
  for (const std::string& name : s.classes) {
    size_t k = 0;
    while (k < classes.size() && name != classes[k].name) ++k;
    if (k == classes.size()) {
      std::string known;
      for (const ClassSpec& cs : classes) known += (known.empty() ? "" : ", ") + std::string(cs.name);
      throw UsageError(fmt::format("unknown --class {} for {} (its classes: {})", Quoted(name), op.name, known));
    }
    chosen[k] = true;
  }
  // Options that would change nothing are refused, as everywhere in the
  // CLI: --random without the random class, --seed without a seeded class
  // or stochastic rounding.
  bool random_class = false, seeded_class = false;
  for (size_t k = 0; k < classes.size(); ++k) {
    if (!chosen[k]) continue;
    random_class = random_class || std::string_view(classes[k].name) == "random";
    seeded_class = seeded_class || classes[k].seeded;
  }
  const bool whole = classes.size() == 1;  // all-codes: every operand tuple
  if (s.random_opt->count() && !random_class)
    throw UsageError(fmt::format("--random: {} {}: it would change nothing", op.name,
                                 whole ? "lists every operand tuple, there is no random class"
                                       : "has its random class left out by --class"));
  if (s.seed_opt->count() && !seeded_class && !IsStochastic(opt.rounding))
    throw UsageError(fmt::format("--seed: {} {} and the rounding is not stochastic: it would change nothing", op.name,
                                 whole ? "lists every operand tuple" : "has no seeded class in --class"));

  std::vector<uint64_t> counts(classes.size(), 0);
  uint64_t index = 0;  // the line's position: what keys sr, as verify counts it
  std::string out;
  auto emit = [&](const Tuple& t, size_t cls) {
    ++counts[cls];
    if (s.list) return;
    const Result r = op.apply(t.data(), opt, index++);
    for (size_t k = 0; k < c.n; ++k) {
      out += FormatHexCode(t[k], *op.operands[k]);
      out += ' ';
    }
    out += FormatHexCode(r.code, *op.result);
    out += fmt::format(" {:02x}\n", r.flags);
    if (out.size() > (1 << 16)) {
      WriteStdout(out);  // a write error stops the run here, not at the end
      out.clear();
    }
  };
  Sink sink(c.n, emit);
  for (size_t k = 0; k < classes.size(); ++k) {
    if (!chosen[k]) continue;
    sink.current = k;
    Rng rng(ClassSeed(s.flags.seed, classes[k].name));
    classes[k].run(c, rng, sink);
  }
  if (s.list) {
    uint64_t total = 0;
    for (size_t k = 0; k < classes.size(); ++k) {
      if (!chosen[k]) continue;
      out += fmt::format("{:<17} {:>8}  {}{}\n", classes[k].name, counts[k], classes[k].seeded ? "(seeded) " : "",
                         classes[k].what);
      total += counts[k];
    }
    out += fmt::format("{:<17} {:>8}\n", "total", total);
  }
  WriteStdout(out);
  FlushStdout();
}

}  // namespace

void RegisterGenCommand(CLI::App& app) {
  auto s = std::make_shared<Session>();
  s->flags.seed = 1;  // TestFloat's default seed
  CLI::App* cmd = app.add_subcommand(
      "gen", "Print TestFloat-style test vectors for OP (\"operands result flags\", the lines verify reads)");
  cmd->add_option("OP", s->op_name,
                  "<src>_to_<dst> or <fmt>_add|_sub|_mul|_div|_sqrt|_mulAdd (TestFloat names), e.g. f32_to_e4m3fn, f16_add")
      ->required();
  AddRoundingOptions(*cmd, s->flags);
  // gen's --seed keys its random classes, and stochastic rounding as well
  // (so `gen OP --seed S ... | verify OP --seed S ...` holds for sr): it is
  // never an option "that would change nothing", unlike eval's.
  cmd->remove_option(s->flags.seed_opt);
  s->flags.seed_opt = nullptr;
  s->seed_opt = cmd->add_option("--seed", s->flags.seed,
                  "seed of the random classes, and of stochastic rounding (Philox4x32-10 key) [default: 1]")
      ->check(SeedCheck());
  cmd->add_option("--level", s->level, "1: tens of thousands of vectors; 2: many more [default: 1]")
      ->check(IntegerIn(1, 2));
  s->random_opt = cmd->add_option("--random", s->random_count,
                                  "vectors of the random class, 0..10^9 [default: 10000 for one-operand ops, 5000 for "
                                  "the others, ten times that at level 2]")
                      ->check(UnsignedIn(0, 1000000000));
  cmd->add_option("--class", s->classes, "only these classes (comma-separated; see --list-classes)")
      ->delimiter(',');
  cmd->add_flag("--list-classes", s->list, "print the classes for OP with their vector counts instead of the vectors");
  cmd->callback([s] { RunGen(*s); });
}

}  // namespace floatscope::cli
