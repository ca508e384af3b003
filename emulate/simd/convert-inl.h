// Highway kernels: float32 lanes -> codes, codes -> float32 lanes.
//
// The general conversion is emulate/encode_lanes.h (formats/round_pack.h,
// lane by lane, in 32-bit integer operations; one definition with the CUDA
// kernels); here it runs on Highway's vectors (HwyTags), beside the fast
// path, the random words and the array loops. The results for special
// inputs come from the scalar core (EncodePlan).
//
// Compiled once per target through foreach_target.h (emulate/simd/kernels.cc).

#if defined(FLOATSCOPE_SIMD_CONVERT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef FLOATSCOPE_SIMD_CONVERT_INL_H_
#undef FLOATSCOPE_SIMD_CONVERT_INL_H_
#else
#define FLOATSCOPE_SIMD_CONVERT_INL_H_
#endif

#include <hwy/highway.h>

#include <cstring>
#include <type_traits>

#include "emulate/array_ops.h"
#include "emulate/encode_lanes.h"
#include "emulate/encode_plan.h"
#include "emulate/fast_round-inl.h"
#include "emulate/scalar_lanes.h"
#include "emulate/simd/kernels.h"

HWY_BEFORE_NAMESPACE();
namespace floatscope::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DU = hn::ScalableTag<uint32_t>;
using DI = hn::RebindToSigned<DU>;
using DF = hn::RebindToFloat<DU>;
using VU = hn::Vec<DU>;
using VI = hn::Vec<DI>;
using MU = hn::Mask<DU>;

// The tags of the algorithms shared with CUDA (emulate/fast_round.h,
// emulate/scalar_lanes.h): Highway's vectors here, one lane there.
struct HwyTags {
  using DU = simd::HWY_NAMESPACE::DU;
  using DI = simd::HWY_NAMESPACE::DI;
  using DF = simd::HWY_NAMESPACE::DF;
};

// Philox's round keys, each broadcast to a whole vector once per call (so the
// rounds XOR with a memory operand instead of re-broadcasting).
struct PhiloxKeys {
  HWY_ALIGN uint32_t lanes[10][2][hn::MaxLanes(DU())];
  explicit PhiloxKeys(const EncodePlan& p) {
    for (int r = 0; r < 10; ++r)
      for (int w = 0; w < 2; ++w) hn::Store(hn::Set(DU(), p.random.round_key[r][w]), DU(), lanes[r][w]);
  }
  VU Get(int round, int word) const { return hn::Load(DU(), lanes[round][word]); }
};

// The random words of stochastic rounding (DESIGN.md "Rounding",
// formats/philox.h): element i uses word i mod 4 of Philox4x32-10 with
// counter floor(i / 4), key = seed. One Philox evaluation over the N lanes
// of a vector gives 4N words: the words of 4N consecutive elements starting
// at a multiple of 4. Batch() makes kCalls such evaluations at once, the
// words of a batch of kVectors·N elements. This is the only place the
// kernels make random bits; ForEachVector hands them to the general kernel
// and to the fast path alike. (Not on Highway's one-lane fallback, whose
// vectors cannot hold a batch's head: there ForEachVector leaves stochastic
// rounding to the core. kernels.cc never dispatches to it anyway.)
#if HWY_TARGET != HWY_SCALAR
class StochasticWords {
 public:
  explicit StochasticWords(const EncodePlan& p) : keys_(p) {
    // Lane l = 4b + k computes counter base/4 + k·B + b (B = N/4 128-bit
    // blocks): see Philox.
    const size_t N = hn::Lanes(DU());
    for (size_t l = 0; l < N; ++l) counter_offset_[l] = static_cast<uint32_t>((l % 4) * (N / 4) + l / 4);
  }

  // Philox evaluations per Batch, in lockstep. Each is two chains of ten
  // dependent multiply-shift-XOR rounds per generator, too few to keep the
  // multipliers busy: with AVX-512's 32 registers two evaluations fit and
  // sr-eq fake-quant runs 13 % faster (AMD EPYC, in L2); with AVX2's 16
  // they spill and it runs 16 % slower.
  static constexpr size_t kCalls = HWY_TARGET <= HWY_AVX3 ? 2 : 1;
  static constexpr size_t kVectors = 4 * kCalls;

  // The words of elements base … base + kVectors·N - 1 (base a multiple of
  // 4), in element order: lane j of r[k] is element base + k·N + j's.
  HWY_INLINE void Batch(uint64_t base, VU r[kVectors]) const {
    const DU du;
    const size_t N = hn::Lanes(du);
    // Counters (lo, hi) of the lanes, carried as 64-bit numbers. Element
    // indices wrap at 2^64, which is 0 mod 4, so counters wrap at 2^62.
    VU lo[kCalls], hi[kCalls];
    for (size_t c = 0; c < kCalls; ++c) {
      const uint64_t first = StochasticCounter(base) + c * N;
      const VU off = hn::Load(du, counter_offset_);
      lo[c] = hn::Add(hn::Set(du, static_cast<uint32_t>(first)), off);
      const VU carry = hn::IfThenElseZero(hn::Lt(lo[c], off), hn::Set(du, 1u));
      hi[c] = hn::And(hn::Add(hn::Set(du, static_cast<uint32_t>(first >> 32)), carry), hn::Set(du, 0x3fffffffu));
    }
    Philox(lo, hi, r);
  }

 private:
  using D64 = hn::Repartition<uint64_t, DU>;
  using V64 = hn::Vec<D64>;
  static constexpr size_t kGen = 2 * kCalls;

  // Philox4x32-10 (formats/philox.h) of the counters (lo[c], hi[c], 0, 0),
  // and the words put in element order; evaluation c gives r[4c … 4c + 3]
  // (its base is base + 4N·c). Lane l = 4b + k (128-bit block b, position k)
  // computes counter base/4 + k·B + b, which holds the words of elements
  // base + k·N + 4b … + 3: those of block b of r[k]. So r[k] block b
  // is the four words of lane 4b + k, a 4x4 transpose within each 128-bit
  // block (where Highway's interleaves work).
  //
  // The generator runs the even and the odd lanes as two generators in the
  // low halves of 64-bit lanes (the high halves hold garbage that MulEven
  // ignores and XOR never brings down): a product's high word is one shift
  // away and its low word needs no move at all. Generator g = l mod 2, its
  // 64-bit lane m = l / 2 = 2b + h, so k = 2h + g. Packing words (0, 1) and
  // (2, 3) of each counter into one 64-bit lane each (P, Q), the transpose
  // is two interleaves per generator: InterleaveLower(P, Q) puts in block b
  // the four words of 64-bit lane 2b (k = g), InterleaveUpper those of
  // lane 2b + 1 (k = 2 + g).
  HWY_INLINE void Philox(const VU* c0v, const VU* c1v, VU* r) const {
    const DU du;
    const D64 d64;
    const VU m0 = hn::Set(du, 0xD2511F53u), m1 = hn::Set(du, 0xCD9E8D57u);
    auto k = [&](int round, int word) { return hn::BitCast(d64, keys_.Get(round, word)); };
    // All generators in lockstep (independent chains for the multiplier).
    V64 c0[kGen], c1[kGen], c2[kGen], c3[kGen];
    for (size_t c = 0; c < kCalls; ++c) {
      c0[2 * c] = hn::BitCast(d64, c0v[c]);
      c0[2 * c + 1] = hn::ShiftRight<32>(hn::BitCast(d64, c0v[c]));
      c1[2 * c] = hn::BitCast(d64, c1v[c]);
      c1[2 * c + 1] = hn::ShiftRight<32>(hn::BitCast(d64, c1v[c]));
    }
    for (size_t g = 0; g < kGen; ++g) {  // round 0: c2 = c3 = 0, so c2 * M1 = 0
      const V64 p0 = hn::MulEven(hn::BitCast(du, c0[g]), m0);
      c0[g] = hn::Xor(c1[g], k(0, 0));
      c1[g] = hn::Zero(d64);
      c2[g] = hn::Xor(hn::ShiftRight<32>(p0), k(0, 1));
      c3[g] = p0;
    }
    for (int round = 1; round < 10; ++round) {
      for (size_t g = 0; g < kGen; ++g) {
        const V64 p0 = hn::MulEven(hn::BitCast(du, c0[g]), m0);
        const V64 p1 = hn::MulEven(hn::BitCast(du, c2[g]), m1);
        c0[g] = hn::Xor3(hn::ShiftRight<32>(p1), c1[g], k(round, 0));
        c2[g] = hn::Xor3(hn::ShiftRight<32>(p0), c3[g], k(round, 1));
        c1[g] = p1;
        c3[g] = p0;
      }
    }
    // (low word of a, low word of b) as the two halves of each 64-bit lane.
    auto pack = [&](V64 a, V64 b) {
      return hn::BitCast(d64, hn::OddEven(hn::BitCast(du, hn::ShiftLeft<32>(b)), hn::BitCast(du, a)));
    };
    for (size_t c = 0; c < kCalls; ++c)
      for (size_t h = 0; h < 2; ++h) {
        const size_t g = 2 * c + h;
        const V64 p = pack(c0[g], c1[g]), q = pack(c2[g], c3[g]);
        r[4 * c + h] = hn::BitCast(du, hn::InterleaveLower(d64, p, q));
        r[4 * c + 2 + h] = hn::BitCast(du, hn::InterleaveUpper(d64, p, q));
      }
  }

  PhiloxKeys keys_;
  HWY_ALIGN uint32_t counter_offset_[hn::MaxLanes(DU())];
};
#endif  // HWY_TARGET != HWY_SCALAR

// The general conversion, shared with the CUDA kernels: shared::EncodeLanes
// rounds float32 lanes (as bits) into the plan's format, with `random` each
// lane's word for stochastic rounding (StochasticWords; unused otherwise),
// and shared::DecodeLanes turns codes back into float32 bits
// (emulate/encode_lanes.h).
namespace shared = lanes::HWY_NAMESPACE;
using Lanes = shared::Lanes<HwyTags>;

// Adds the per-lane flags and properties of one vector to `st`.
HWY_INLINE void CountLanes(const Lanes& l, MU valid, ArrayStats* st) {
  const DU du;
  auto count = [&](MU m) { return static_cast<uint64_t>(hn::CountTrue(du, hn::And(m, valid))); };
  auto has = [&](uint32_t bit) { return hn::Ne(hn::And(l.flags, hn::Set(du, bit)), hn::Zero(du)); };
  st->elements += hn::CountTrue(du, valid);
  st->inexact += count(has(kInexact));
  st->underflow += count(has(kUnderflow));
  st->overflow += count(has(kOverflow));
  st->invalid += count(has(kInvalid));
  st->saturated += count(l.saturated);
  st->flushed += count(l.flushed);
  st->nan += count(l.is_nan);
}

// The fast path (EncodePlan::fast, FastRounding): the rounding done on the
// float32 bit pattern, shared with the CUDA kernels (emulate/fast_round-inl.h,
// which explains it: FastRoundLanes, FastFakeQuantLanes, FastCodeLanes,
// FastLanes, FastKind, WithSign), here on Highway's vectors (HwyTags).
using FastLanesV = FastLanes<VU>;

// Which lanes stochastic fake quantization's shortcut (FastSrShallow) takes
// (FastRounding::sr_shortcut_subnormal, sr_shortcut_deep).
enum class SrRange {
  kNormal,     // |x| in [2^emin, largest finite]: one constant d
  kSubnormal,  // |x| in [max(2^q, 2^-126), largest finite]: d lane by lane
  kDeep,       // |x| in [0, largest finite]: d lane by lane, deep lanes too
};

// t = floor(a / 2^q * 2^32) in the lanes with a < 2^q (= min_positive;
// others: unspecified), for FastSrShallow's kDeep. On x86 in floating
// point: a * 2^(32 - q) is exact (a power of two, and 2^q >= 2^-6 keeps the
// product of a float32 subnormal normal; under DAZ such a lane's t is 0
// either way, as a < 2^-126 makes t < 2^-88) and below 2^32, so the
// truncating conversion to an unsigned integer gives t. AVX2 converts to
// signed only: the lanes from 2^31 on take 2^31 off first (exact there:
// multiples of 2^8) and put it back. Elsewhere the integer route of
// FastRoundLanes with one shift: a < 2^q, so with sig the 24-bit
// significand t = sig * 2^(8 - s), s >= 0, i.e. (sig << 8) >> s, and 0 from
// s = 32 on (sig < 2^24).
HWY_INLINE VU DeepFraction(const EncodePlan& p, VU a) {
  const DU du;
#if HWY_TARGET <= HWY_AVX3 || HWY_TARGET == HWY_AVX2
  const DF df;
  const auto v = hn::Mul(hn::BitCast(df, a), hn::Set(df, p.fast.deep_fraction_scale));
#if HWY_TARGET <= HWY_AVX3
  return VU{_mm512_cvttps_epu32(v.raw)};
#else
  const __m256 big = _mm256_cmp_ps(v.raw, _mm256_set1_ps(2147483648.0f), _CMP_GE_OQ);
  const __m256i t = _mm256_cvttps_epi32(_mm256_sub_ps(v.raw, _mm256_and_ps(big, _mm256_set1_ps(2147483648.0f))));
  return VU{_mm256_xor_si256(t, _mm256_and_si256(_mm256_castps_si256(big), _mm256_set1_epi32(INT32_MIN)))};
#endif
#else
  const DI di;
  const VU implicit = hn::Set(du, 0x800000u);
  // s = 8 - (exponent field + 32 - quantum_field) over the deep lanes'
  // fields (the others' clamped into them: s >= 0 everywhere).
  const VI ef1 =
      hn::BitCast(di, hn::ShiftRight<23>(hn::Min(hn::Max(a, implicit), hn::Set(du, p.fast.min_positive - 1))));
  const VI s = hn::Sub(hn::Set(di, p.fast.quantum_field - 24), ef1);
  const VU sig8 = hn::ShiftLeft<8>(hn::Or(a, hn::Min(a, implicit)));
  return hn::IfThenZeroElse(hn::RebindMask(du, hn::Gt(s, hn::Set(di, 31))),
                            hn::Shr(sig8, hn::BitCast(du, hn::Min(s, hn::Set(di, 31)))));
#endif
}

// Stochastic rounding's common vector (kFloat, kFloatNoNegZero; kInt for
// kDeep), tried before FastRoundLanes by the fake-quant loop: where every
// lane's |x| lies in the range below, none can overflow (the largest finite
// is on the grid: rounding never passes it) and the lanes need none of
// FastRoundLanes' other cases. Each lane drops d <= 23 pattern bits as in
// FastRoundLanes (bias, then clear d bits), giving FastRoundLanes's mag with
// the input's sign, bit for bit. Three ranges (SrRange):
//   kNormal: low = 2^emin, d = min_dropped_bits in every lane (one constant
//     shift; >= 2^-125 outside kFloatFixed, which does not come here); the
//     bias goes onto the signed pattern (|x| + bias < 2^31: no carry reaches
//     the sign), no float32 subnormal (DAZ changes nothing);
//   kSubnormal: low = field_floor (2^q and 2^-126, whichever is larger), d =
//     max(min_dropped_bits, quantum_field - exponent field) lane by lane: the
//     format's subnormal binades too, for formats with a high 2^emin, where a
//     vector of unit-scale data often holds a lane below it (e4m3fn on
//     N(0,1): one 16-lane vector in six) and the branch below would
//     mispredict on it; a lane below 2^q (one in forty there) remains rare;
//   kDeep: every lane up to the largest finite, for formats whose smallest
//     nonzero 2^q is so high that unit-scale data has lanes below it in
//     most vectors (FP4, FP6, integers: |x| < 1). A deep lane rounds to 0
//     or 2^q, up where its t = floor(|x| / 2^q * 2^32) plus the random word
//     carries out of 32 bits (DeepFraction). Float32 subnormals are deep
//     lanes, so the plan asks for no DAZ.
// Returns false (and leaves *rounded alone) where some lane is outside.
template <Rounding kMode, SrRange kRange, FastKind kKind>
HWY_INLINE bool FastSrShallow(const EncodePlan& p, VU bits, VU random, VU* rounded) {
  const DU du;
  const DI di;
  const VU abs = hn::And(bits, hn::Set(du, 0x7fffffffu));
  const VU top_r = hn::Set(du, p.random.TopMask());
  // 32 - d for patterns whose exponent field is at least field_floor's.
  auto lane_shift = [&](VU pattern) {
    const VI ef = hn::BitCast(di, hn::ShiftRight<23>(pattern));
    return hn::BitCast(du, hn::Min(hn::Add(ef, hn::Set(di, 32 - p.fast.quantum_field)),
                                   hn::Set(di, 32 - p.fast.min_dropped_bits)));
  };
  if constexpr (kRange == SrRange::kDeep) {
    const VU a = abs;  // no DAZ: FastRounding::sr_shortcut_deep
    // Patterns < 2^31 compare as signed lanes: what x86 has.
    auto lt = [&](VU x, VU y) { return hn::RebindMask(du, hn::Lt(hn::BitCast(di, x), hn::BitCast(di, y))); };
    if (!hn::AllFalse(du, lt(hn::Set(du, p.fast.max_finite_both_signs), a))) return false;  // overflow, inf, NaN
    const VU shift = lane_shift(hn::Max(a, hn::Set(du, p.fast.field_floor)));
    const VU mask = hn::Shr(hn::Set(du, 0xffffffffu), shift);  // 2^d - 1
    const VU min_pos = hn::Set(du, p.fast.min_positive);
    const VU zero = hn::Zero(du);
    VU shallow;
    MU up_deep;
    if constexpr (kMode == Rounding::kStochastic) {
      const VU u = hn::And(random, top_r);
      shallow = hn::AndNot(mask, hn::Add(a, hn::Shr(u, shift)));
      const VU t = DeepFraction(p, a);
      up_deep = hn::Lt(hn::Add(hn::And(t, top_r), u), u);  // carry out of 32 bits
    } else {
      static_assert(kMode == Rounding::kStochasticEq);
      const MU coin = hn::RebindMask(du, hn::Lt(hn::BitCast(di, random), hn::Zero(di)));
      shallow = hn::AndNot(mask, hn::IfThenElse(coin, hn::Add(a, mask), a));
      up_deep = hn::AndNot(hn::Eq(a, zero), coin);
    }
    const VU mag = hn::IfThenElse(lt(a, min_pos), hn::IfThenElseZero(up_deep, min_pos), shallow);
    *rounded = WithSign<HwyTags, kKind>(mag, hn::Xor(bits, a));
    return true;
  } else {
    constexpr bool kSub = kRange == SrRange::kSubnormal;
    const uint32_t low = kSub ? p.fast.field_floor : p.fast.min_normal;
    const VU range = hn::Sub(abs, hn::Set(du, low));  // wraps below low
    if (!hn::AllFalse(du, hn::Gt(range, hn::Set(du, p.fast.max_finite_both_signs - low)))) return false;
    VU shift;  // 32 - d, in 9..31
    if constexpr (kSub) {
      shift = lane_shift(abs);
    } else {
      shift = hn::Set(du, static_cast<uint32_t>(32 - p.fast.min_dropped_bits));
    }
    const VU mask = hn::Shr(hn::Set(du, 0xffffffffu), shift);  // 2^d - 1
    VU sum;
    if constexpr (kMode == Rounding::kStochastic) {
      sum = hn::Add(bits, hn::Shr(hn::And(random, top_r), shift));
    } else {
      static_assert(kMode == Rounding::kStochasticEq);
      const MU coin = hn::RebindMask(du, hn::Lt(hn::BitCast(di, random), hn::Zero(di)));
      sum = hn::IfThenElse(coin, hn::Add(bits, mask), bits);
    }
    *rounded = hn::AndNot(mask, sum);
    return true;
  }
}

// Where a kernel's results go: fake-quantized values (float32 bits) or codes
// code_bytes wide (4: tf32's, stored shifted to a float32 pattern).
struct Output {
  void* codes;
  int code_bytes;
  float* fq;
  int storage_shift;

  // The N lanes of `v` to elements at … at + N - 1.
  HWY_INLINE void Vector(VU v, size_t at) const {
    const DU du;
    if (fq) {
      hn::StoreU(hn::BitCast(DF(), v), DF(), fq + at);
    } else if (code_bytes == 1) {
      const hn::Rebind<uint8_t, DU> d8;
      hn::StoreU(hn::DemoteTo(d8, hn::BitCast(DI(), v)), d8, static_cast<uint8_t*>(codes) + at);
    } else if (code_bytes == 2) {
      const hn::Rebind<uint16_t, DU> d16;
      hn::StoreU(hn::DemoteTo(d16, hn::BitCast(DI(), v)), d16, static_cast<uint16_t*>(codes) + at);
    } else {
      hn::StoreU(hn::ShiftLeftSame(v, storage_shift), du, static_cast<uint32_t*>(codes) + at);
    }
  }

  // One lane's result to element `at`.
  void Lane(uint32_t v, size_t at) const {
    if (fq) std::memcpy(fq + at, &v, 4);
    else if (code_bytes == 1) static_cast<uint8_t*>(codes)[at] = static_cast<uint8_t>(v);
    else if (code_bytes == 2) static_cast<uint16_t*>(codes)[at] = static_cast<uint16_t>(v);
    else static_cast<uint32_t*>(codes)[at] = v << storage_shift;
  }
};

// Fake-quantized values only: the fast path's fake-quant loop, spared
// Output's per-vector choice of store.
struct FqOutput {
  float* fq;

  HWY_INLINE void Vector(VU v, size_t at) const { hn::StoreU(hn::BitCast(DF(), v), DF(), fq + at); }
  void Lane(uint32_t v, size_t at) const { std::memcpy(fq + at, &v, 4); }
};

// The same through streaming stores (StreamMinBytes): every Vector's `at`
// must make fq + at vector-aligned (ForEachVector's head sees to it), and
// the caller fences the stores (_mm_sfence) before it returns.
struct StreamFqOutput {
  float* fq;

  HWY_INLINE void Vector(VU v, size_t at) const { hn::Stream(hn::BitCast(DF(), v), DF(), fq + at); }
  void Lane(uint32_t v, size_t at) const { std::memcpy(fq + at, &v, 4); }
};

// The loop of every kernel: runs step(bits, random, valid) on the whole
// vectors of in[0, n) and stores the lanes it returns (`out`: Output,
// FqOutput or StreamFqOutput); returns how many elements it did (the
// caller's scalar core does the rest). `random` holds each lane's
// stochastic-rounding word (kSr; zero otherwise), `valid` the lanes that are
// elements of the array (all but in the head, below).
//
// Stochastic rounding takes its words a batch of kVectors·N elements at a
// time (StochasticWords), from element indices that are multiples of 4 on.
// The first `head` elements (kHeadDefault: none, or for stochastic rounding
// of an array whose first index is 4a + s with s > 0 the 4 - s up to the
// next multiple of 4) run first as lanes s … s + head - 1 of a vector
// staged through a buffer (s = 0 without stochastic rounding), with those
// lanes of the words of the batch at 4a; then whole vectors from element
// `head` on, whose batches start at first_index + head, a multiple of 4
// (the caller's promise; head < N, so s + head <= N). A longer head puts
// the vectors' stores on aligned addresses (StreamFqOutput). The last batch
// is used as far as whole vectors remain.
constexpr size_t kHeadDefault = ~size_t{0};

template <bool kSr, class Out, class Step>
HWY_INLINE size_t ForEachVector(const EncodePlan& p, const float* in, const Out out, size_t n, uint64_t first_index,
                                Step step, size_t head = kHeadDefault) {
  const DU du;
  const DF df;
  const size_t N = hn::Lanes(du);
  const MU all = hn::FirstN(du, N);
  size_t i = 0;
  if (head == kHeadDefault) head = kSr ? (4 - first_index % 4) % 4 : 0;
  if constexpr (!kSr) {
    (void)p;
    (void)first_index;
    const VU none = hn::Zero(du);
    if (head != 0) {
      if (n < N) return 0;
      HWY_ALIGN uint32_t lanes[hn::MaxLanes(du)] = {};
      std::memcpy(lanes, in, 4 * head);
      hn::Store(step(hn::Load(du, lanes), none, hn::FirstN(du, head)), du, lanes);
      for (size_t j = 0; j < head; ++j) out.Lane(lanes[j], j);
      i = head;
    }
    for (; i + N <= n; i += N) out.Vector(step(hn::BitCast(du, hn::LoadU(df, in + i)), none, all), i);
  } else {
#if HWY_TARGET == HWY_SCALAR
    return 0;  // see StochasticWords
#else
    if (n < N) return 0;
    const StochasticWords words(p);
    VU r[StochasticWords::kVectors];
    if (head != 0) {
      const size_t s = first_index % 4;
      HWY_ALIGN uint32_t lanes[hn::MaxLanes(du)] = {};
      std::memcpy(lanes + s, in, 4 * head);
      words.Batch(first_index - s, r);
      const MU valid = hn::AndNot(hn::FirstN(du, s), hn::FirstN(du, s + head));
      hn::Store(step(hn::Load(du, lanes), r[0], valid), du, lanes);
      for (size_t j = 0; j < head; ++j) out.Lane(lanes[s + j], j);
      i = head;
    }
    constexpr size_t kVectors = StochasticWords::kVectors;
    HWY_ALIGN uint32_t batch[kVectors][hn::MaxLanes(du)];  // the current batch's words, by vector
    for (size_t k = kVectors; i + N <= n; i += N, ++k) {
      if (k == kVectors) {
        words.Batch(first_index + i, r);
        for (size_t j = 0; j < kVectors; ++j) hn::Store(r[j], du, batch[j]);
        k = 0;
      }
      out.Vector(step(hn::BitCast(du, hn::LoadU(df, in + i)), hn::Load(du, batch[k]), all), i);
    }
#endif
  }
  return i;
}

// The statistics of the fast paths (EncodePlan::fast_stats, FastStatistics),
// counted in the same pass. A common vector adds its inexact lanes (rounded
// magnitude != input magnitude) and, for floats, its underflow lanes (inexact
// and tiny) to per-lane counters; nothing else can happen there (overflow,
// invalid, saturation and NaN results come from special or overflowing inputs
// only, and flushing is not on the fast path). Tiny is |x| below
// FastStatistics::tiny_limit, or for stochastic rounding with tininess after
// rounding (random_edge) |x|'s pattern plus the mode's bias on the grid one
// binade wider below 2^emin's: the wider rounding, with the same random word,
// not carrying into 2^emin. A vector with an overflow or a special input
// (Rare) is counted from the general kernel's flags instead (EncodeLanes,
// proven equal to the core). Lanes outside `valid` (a stochastic array's
// staged head) hold +0, which counts as nothing in a common vector.
struct FastCounts {
  // Scalar counters: kept in registers across the rare branch's call,
  // where vector accumulators would have to be saved (every vector
  // register is caller-saved); CountTrue is a mask move and a popcount.
  uint64_t inexact = 0, underflow = 0;

  // Whether this vector must be counted by the general kernel. `any`: the
  // rounding saw a lane that may overflow or be special.
  HWY_INLINE static bool Rare(bool any) { return any; }

  // A common vector: `inexact` lanes, and the input `bits`, `a` (|x| after
  // DAZ) and, for stochastic rounding, the lanes' words, to tell the tiny
  // ones.
  template <Rounding kMode>
  HWY_INLINE void Add(const EncodePlan& p, bool is_float, MU inexact_lanes, VU bits, VU a, VU random) {
    const DU du;
    const DI di;
    inexact += hn::CountTrue(du, inexact_lanes);
    if (!is_float) return;
    MU tiny;
    constexpr bool kSr = kMode == Rounding::kStochastic || kMode == Rounding::kStochasticEq;
    if (kSr && p.fast_stats.random_edge) {
      // The bias FastRoundLanes adds for d = edge_spacing_log2 (< 2^d, so
      // every lane below edge_low stays below 2^emin and none from 2^emin on
      // drops under it). Patterns < 2^31 and bias < 2^23: no wrap.
      VU bias;
      if constexpr (kMode == Rounding::kStochastic) {
        const VU top_r = hn::Set(du, p.random.TopMask());
        bias = hn::ShiftRightSame(hn::And(random, top_r), 32 - p.fast_stats.edge_spacing_log2);
      } else {
        const MU coin = hn::RebindMask(du, hn::Lt(hn::BitCast(di, random), hn::Zero(di)));
        bias = hn::IfThenElseZero(coin, hn::Set(du, (1u << p.fast_stats.edge_spacing_log2) - 1));
      }
      tiny = hn::RebindMask(du, hn::Lt(hn::BitCast(di, hn::Add(a, bias)),
                                       hn::Set(di, static_cast<int32_t>(p.fast.min_normal))));
    } else {
      VI limit = hn::Set(di, static_cast<int32_t>(p.fast_stats.tiny_limit[0]));
      if (p.fast_stats.tiny_limit[0] != p.fast_stats.tiny_limit[1])  // rup, rdn: by sign
        limit = hn::IfThenElse(hn::Lt(hn::BitCast(di, bits), hn::Zero(di)),
                               hn::Set(di, static_cast<int32_t>(p.fast_stats.tiny_limit[1])), limit);
      tiny = hn::RebindMask(du, hn::Lt(hn::BitCast(di, a), limit));
    }
    underflow += hn::CountTrue(du, hn::And(inexact_lanes, tiny));
  }

  void Flush(ArrayStats* st) const {
    st->inexact += inexact;
    st->underflow += underflow;
  }
};

// Forces a lambda inline: GCC does not inline the fast loop's body into
// ForEachVector by itself once it holds the rare vectors' general kernel
// (FastCount), which made fake-quant with statistics 2.5x slower in L2.
#ifndef FLOATSCOPE_INLINE_LAMBDA
#define FLOATSCOPE_INLINE_LAMBDA __attribute__((always_inline))
#endif

// Counts a rare vector (FastCounts::Rare) from the general kernel's flags.
// Elements are counted by the loops, once for all.
HWY_INLINE void CountRareVector(const EncodePlan& p, VU bits, VU random, MU valid, ArrayStats* st) {
  const uint64_t elements = st->elements;
  CountLanes(shared::EncodeLanes<HwyTags>(p, bits, random, p.rounding.mode), valid, st);
  st->elements = elements;
}

// Counts one vector of the pattern fast path (FastCounts).
template <Rounding kMode, FastKind kKind>
HWY_INLINE void FastCount(const EncodePlan& p, const FastLanesV& l, VU random, MU valid, FastCounts* counts,
                          ArrayStats* st) {
  if (FastCounts::Rare(l.any)) CountRareVector(p, l.bits, random, valid, st);
  else counts->Add<kMode>(p, kKind != FastKind::kInt, hn::Ne(l.mag, l.a), l.bits, l.a, random);
}

// The fast path for one rounding mode (the mode and the integer/float split
// are template arguments so the loop holds no per-vector decision but the
// rare one about overflow and specials). With kStats it counts the
// statistics as it goes (FastCounts).
template <Rounding kMode, FastKind kKind, bool kStats>
HWY_NOINLINE size_t FastEncodeLoop(const EncodePlan& plan, const float* in, const Output& out, size_t n,
                                   uint64_t first_index, ArrayStats* stats) {
  const EncodePlan p = plan;  // see EncodeF32Vectors
  constexpr bool kSr = kMode == Rounding::kStochastic || kMode == Rounding::kStochasticEq;
  FastCounts counts;
  size_t done;
  if (out.fq) {
    auto step = [&](VU bits, VU random, MU valid) FLOATSCOPE_INLINE_LAMBDA {
      if constexpr (kSr && kKind != FastKind::kFloatFixed) {
        VU rounded;
        // The shortcut of one range; with statistics, a lane below 2^emin
        // may be tiny (FastCounts decides with the same random word).
        auto shortcut = [&](auto range) FLOATSCOPE_INLINE_LAMBDA {
          constexpr SrRange kRange = decltype(range)::value;
          if (!FastSrShallow<kMode, kRange, kKind>(p, bits, random, &rounded)) return false;
          if constexpr (kStats) {
            const VU abs = hn::And(bits, hn::Set(DU(), 0x7fffffffu));
            // Inexact: the magnitude changed (kDeep may drop the sign of a
            // zero; the other ranges keep the input's sign).
            const MU inexact = kRange == SrRange::kDeep ? hn::Ne(hn::And(rounded, hn::Set(DU(), 0x7fffffffu)), abs)
                                                        : hn::Ne(rounded, bits);
            counts.Add<kMode>(p, kKind != FastKind::kInt, inexact, bits, abs, random);
          }
          return true;
        };
        bool shallow;
        if (p.fast.sr_shortcut_deep) shallow = shortcut(std::integral_constant<SrRange, SrRange::kDeep>());
        else if constexpr (kKind == FastKind::kInt) shallow = false;
        else if (p.fast.sr_shortcut_subnormal)
          shallow = shortcut(std::integral_constant<SrRange, SrRange::kSubnormal>());
        else shallow = shortcut(std::integral_constant<SrRange, SrRange::kNormal>());
        if (shallow) return rounded;
      }
      const FastLanesV l = FastRoundLanes<HwyTags, kMode, kKind>(p, bits, random);
      if constexpr (kStats) FastCount<kMode, kKind>(p, l, random, valid, &counts, stats);
      return FastFakeQuantLanes<HwyTags, kKind>(p, l);
    };
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX2
    // Past the last-level cache: streaming stores from the first aligned
    // element on (the elements before it as ForEachVector's head), where
    // that element starts a stochastic batch or the mode needs none.
    const size_t bytes = hn::Lanes(DU()) * 4;
    const uintptr_t addr = reinterpret_cast<uintptr_t>(out.fq);
    const size_t head = (bytes - addr % bytes) % bytes / 4;
    if (n * 8 >= StreamMinBytes() && addr % 4 == 0 && (!kSr || (first_index + head) % 4 == 0)) {
      done = ForEachVector<kSr>(p, in, StreamFqOutput{out.fq}, n, first_index, step, head);
      _mm_sfence();
    } else {
      done = ForEachVector<kSr>(p, in, FqOutput{out.fq}, n, first_index, step);
    }
#else
    done = ForEachVector<kSr>(p, in, FqOutput{out.fq}, n, first_index, step);
#endif
  } else {
    done = ForEachVector<kSr>(p, in, out, n, first_index, [&](VU bits, VU random, MU valid) FLOATSCOPE_INLINE_LAMBDA {
      const FastLanesV l = FastRoundLanes<HwyTags, kMode, kKind>(p, bits, random);
      if constexpr (kStats) FastCount<kMode, kKind>(p, l, random, valid, &counts, stats);
      return FastCodeLanes<HwyTags, kKind>(p, l);
    });
  }
  if constexpr (kStats) {
    counts.Flush(stats);
    stats->elements += done;
  }
  return done;
}

template <FastKind kKind, bool kStats>
size_t FastEncodeByMode(const EncodePlan& p, const float* in, const Output& out, size_t n, uint64_t first_index,
                        ArrayStats* st) {
  using R = Rounding;
  switch (p.rounding.mode) {
    case R::kNearestEven: return FastEncodeLoop<R::kNearestEven, kKind, kStats>(p, in, out, n, first_index, st);
    case R::kNearestAway: return FastEncodeLoop<R::kNearestAway, kKind, kStats>(p, in, out, n, first_index, st);
    case R::kTowardZero: return FastEncodeLoop<R::kTowardZero, kKind, kStats>(p, in, out, n, first_index, st);
    case R::kDown: return FastEncodeLoop<R::kDown, kKind, kStats>(p, in, out, n, first_index, st);
    case R::kUp: return FastEncodeLoop<R::kUp, kKind, kStats>(p, in, out, n, first_index, st);
    case R::kOdd: return FastEncodeLoop<R::kOdd, kKind, kStats>(p, in, out, n, first_index, st);
    case R::kStochastic: return FastEncodeLoop<R::kStochastic, kKind, kStats>(p, in, out, n, first_index, st);
    case R::kStochasticEq: return FastEncodeLoop<R::kStochasticEq, kKind, kStats>(p, in, out, n, first_index, st);
  }
  return 0;
}

template <bool kStats>
size_t FastEncode(const EncodePlan& p, const float* in, const Output& out, size_t n, uint64_t first_index,
                  ArrayStats* st) {
  if (p.layout.is_int) return FastEncodeByMode<FastKind::kInt, kStats>(p, in, out, n, first_index, st);
  if (p.fast.fixed_drop) return FastEncodeByMode<FastKind::kFloatFixed, kStats>(p, in, out, n, first_index, st);
  if (p.fast.zero_keeps_sign) return FastEncodeByMode<FastKind::kFloat, kStats>(p, in, out, n, first_index, st);
  return FastEncodeByMode<FastKind::kFloatNoNegZero, kStats>(p, in, out, n, first_index, st);
}

// The targets with F16C (kernels.cc compiles no other x86 target).
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX2
// f16 through F16C (F16cPath, EncodePlan::f16c): one VCVTPS2PH with the
// rounding in its immediate, and VCVTPH2PS back for fake quantization. The
// conversions may set MXCSR's sticky exception flags: the caller restores
// MXCSR afterwards (F16cEncode).
template <int kImm>
struct F16c {
#if HWY_TARGET == HWY_AVX3
  using Half = __m256i;
  static HWY_INLINE Half To(VU bits) { return _mm512_cvtps_ph(_mm512_castsi512_ps(bits.raw), kImm | _MM_FROUND_NO_EXC); }
  static HWY_INLINE VU From(Half h) { return VU{_mm512_castps_si512(_mm512_cvtph_ps(h))}; }
  static HWY_INLINE void Store(Half h, uint16_t* to) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(to), h); }
#else
  using Half = __m128i;
  static HWY_INLINE Half To(VU bits) { return _mm256_cvtps_ph(_mm256_castsi256_ps(bits.raw), kImm); }
  static HWY_INLINE VU From(Half h) { return VU{_mm256_castps_si256(_mm256_cvtph_ps(h))}; }
  static HWY_INLINE void Store(Half h, uint16_t* to) { _mm_storeu_si128(reinterpret_cast<__m128i*>(to), h); }
#endif
};

// The F16C loop. Statistics as FastCounts: a vector with a lane beyond the
// largest finite f16 (65504: overflow possible), a NaN or infinity goes to
// the general kernel's flags; the others are inexact where the round trip
// changed the value, underflow where that is also tiny (tiny_limit:
// the modes here are deterministic).
template <int kImm, bool kStats>
HWY_NOINLINE size_t F16cLoop(const EncodePlan& plan, const float* in, uint16_t* codes, float* fq, size_t n,
                             ArrayStats* stats) {
  const EncodePlan p = plan;  // see EncodeF32Vectors
  const DU du;
  const DI di;
  const DF df;
  const size_t N = hn::Lanes(du);
  const MU all = hn::FirstN(du, N);
  FastCounts counts;
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const VU bits = hn::BitCast(du, hn::LoadU(df, in + i));
    const typename F16c<kImm>::Half h = F16c<kImm>::To(bits);
    if (fq) hn::StoreU(hn::BitCast(df, F16c<kImm>::From(h)), df, fq + i);
    else F16c<kImm>::Store(h, codes + i);
    if constexpr (kStats) {
      const VU a = hn::And(bits, hn::Set(du, 0x7fffffffu));
      const bool beyond =
          !hn::AllFalse(di, hn::Gt(hn::BitCast(di, a), hn::Set(di, static_cast<int32_t>(p.fast.max_finite[0]))));
      if (FastCounts::Rare(beyond)) CountRareVector(p, bits, hn::Zero(du), all, stats);
      else counts.Add<Rounding::kNearestEven>(p, true, hn::Ne(F16c<kImm>::From(h), bits), bits, a, hn::Zero(du));
    }
  }
  if constexpr (kStats) {
    counts.Flush(stats);
    stats->elements += i;
  }
  return i;
}

template <bool kStats>
size_t F16cByMode(const EncodePlan& p, const float* in, uint16_t* codes, float* fq, size_t n, ArrayStats* st) {
  switch (p.f16c.round_imm) {
    case 0: return F16cLoop<_MM_FROUND_TO_NEAREST_INT, kStats>(p, in, codes, fq, n, st);
    case 1: return F16cLoop<_MM_FROUND_TO_NEG_INF, kStats>(p, in, codes, fq, n, st);
    case 2: return F16cLoop<_MM_FROUND_TO_POS_INF, kStats>(p, in, codes, fq, n, st);
    case 3: return F16cLoop<_MM_FROUND_TO_ZERO, kStats>(p, in, codes, fq, n, st);
  }
  return 0;
}

// Runs the F16C loop where it gives the core's bits: returns false (and
// does nothing) when MXCSR is not the default one. DAZ would read float32
// subnormal inputs as zero, FTZ is ignored by VCVTPS2PH but not worth the
// doubt, and an unmasked exception would trap: such a thread gets the
// integer kernels. MXCSR is restored, so the sticky flags the AVX2 form
// may raise do not leak to the caller.
HWY_INLINE bool F16cEncode(const EncodePlan& p, const float* in, uint16_t* codes, float* fq, size_t n,
                           ArrayStats* st, size_t* done) {
  const unsigned csr = _mm_getcsr();
  if ((csr & 0xffc0u) != 0x1f80u) return false;  // DAZ, masks, rounding, FTZ: all default
  *done = st ? F16cByMode<true>(p, in, codes, fq, n, st) : F16cByMode<false>(p, in, codes, fq, n, st);
  _mm_setcsr(csr);
  return true;
}
#endif  // AVX3 || AVX2

// Rounds n floats; writes codes (code_bytes wide) or, with fq_out, their
// decoded values (fake quantization). Handles whole vectors (and the head of
// a stochastic array: ForEachVector); the caller runs the scalar core on the
// rest.
HWY_NOINLINE size_t EncodeF32Vectors(const EncodePlan& plan, const float* in, void* codes, int code_bytes,
                                     float* fq_out, size_t n, uint64_t first_index, ArrayStats* stats) {
  // A local copy: stores through the uint8_t output may alias anything the
  // caller could see, which would make the compiler reload and re-test every
  // plan field in every iteration. Nothing can alias this copy.
  const EncodePlan p = plan;
  const Output out{codes, code_bytes, fq_out, p.layout.storage_shift};
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX2
  if (p.f16c.round_imm >= 0 && (stats == nullptr || p.fast_stats.applies) && (fq_out || code_bytes == 2)) {
    size_t done = 0;
    if (F16cEncode(p, in, static_cast<uint16_t*>(codes), fq_out, n, stats, &done)) {
      NoteEncodePath(EncodePath::kF16c);
      return done;
    }
  }
#endif
  if (p.fast.applies && (stats == nullptr || p.fast_stats.applies)) {
    NoteEncodePath(EncodePath::kFast);
    return stats ? FastEncode<true>(p, in, out, n, first_index, stats)
                 : FastEncode<false>(p, in, out, n, first_index, stats);
  }
  NoteEncodePath(EncodePath::kGeneral);
  auto step = [&](VU bits, VU random, MU valid) {
    const Lanes l = shared::EncodeLanes<HwyTags>(p, bits, random, p.rounding.mode);
    if (stats) CountLanes(l, valid, stats);
    return fq_out ? shared::DecodeLanes<HwyTags>(p, l.code) : l.code;
  };
  if (IsStochastic(p.rounding.mode)) return ForEachVector<true>(p, in, out, n, first_index, step);
  return ForEachVector<false>(p, in, out, n, first_index, step);
}

HWY_NOINLINE size_t DecodeToF32Vectors(const EncodePlan& plan, const void* codes, int code_bytes, float* out,
                                       size_t n) {
  const EncodePlan p = plan;  // see EncodeF32Vectors
  const DU du;
  const DF df;
  const size_t N = hn::Lanes(du);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    VU code;
    if (code_bytes == 1) {
      const hn::Rebind<uint8_t, DU> d8;
      code = hn::PromoteTo(du, hn::LoadU(d8, static_cast<const uint8_t*>(codes) + i));
    } else if (code_bytes == 2) {
      const hn::Rebind<uint16_t, DU> d16;
      code = hn::PromoteTo(du, hn::LoadU(d16, static_cast<const uint16_t*>(codes) + i));
    } else {
      code = hn::ShiftRightSame(hn::LoadU(du, static_cast<const uint32_t*>(codes) + i), p.layout.storage_shift);
    }
    hn::StoreU(hn::BitCast(df, shared::DecodeLanes<HwyTags>(p, code)), df, out + i);
  }
  return i;
}

}  // namespace HWY_NAMESPACE
}  // namespace floatscope::simd
HWY_AFTER_NAMESPACE();

#endif  // FLOATSCOPE_SIMD_CONVERT_INL_H_
