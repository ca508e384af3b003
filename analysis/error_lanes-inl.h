// ErrorStats::AddArray's loop (error_stats.cc explains it), included by
// error_stats.cc once per target inside a namespace of its own and a
// `#pragma GCC target` region, so that its generic vectors are lowered for
// that target. Uses what error_stats.cc includes and defines before it (no
// include guard: it is meant to be included several times).

// Whether every ref[i] and out[i] is finite (then AddLanes<R, true>).
template <class R>
bool AllFinitePairs(const R* ref, const float* out, size_t n) {
  uint32_t ok = 1;
  for (size_t i = 0; i < n; ++i)
    ok &= static_cast<uint32_t>(std::fabs(ref[i]) <= std::numeric_limits<R>::max()) &
          static_cast<uint32_t>(std::fabs(out[i]) <= FLT_MAX);
  return ok != 0;
}

// kFinite: every pair is finite (AllFinitePairs), so every pair is compared
// and the counts of NaN, infinities and overflow stay 0: the loop leaves
// them out, and the masks that keep the other pairs' terms out.
template <class R, bool kFinite>
void AddLanes(ErrorStats& s, const R* ref, const float* out, size_t n) {
  V4d sq_err = {}, sq_ref = {}, sq_out = {}, ref_out = {}, sq_fl = {};  // the four lanes of each sum
  V8d max_abs = {}, max_rel = {};
  V8i nan_in = {}, inf_in = {}, nan_out = {}, inf_out = {}, nonzero = {}, overflowed = {}, compared = {}, flushed = {};
  const V8i abs_bits = V8i{} + INT64_MAX, inf_bits = V8i{} + INT64_C(0x7FF0000000000000), zero_bits = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    V8d r;
    if constexpr (sizeof(R) == 4) {
      V8f r32;
      std::memcpy(&r32, ref + i, sizeof r32);
      r = __builtin_convertvector(r32, V8d);
    } else {
      std::memcpy(&r, ref + i, sizeof r);
    }
    V8f o32;
    std::memcpy(&o32, out + i, sizeof o32);
    const V8d o = __builtin_convertvector(o32, V8d);
    // Classified by their bits (integer compares; -1 where true): |x| below
    // inf's bits is finite, above them NaN; |x| of 0 is a zero.
    const V8i ir = reinterpret_cast<V8i>(r) & abs_bits, io = reinterpret_cast<V8i>(o) & abs_bits;
    const V8i r_nz = ir != zero_bits;
    V8i both = ~zero_bits;  // ref and out finite
    if constexpr (!kFinite) {
      const V8i r_fin = ir < inf_bits, o_fin = io < inf_bits;
      nan_in -= ir > inf_bits;
      inf_in -= ir == inf_bits;
      nan_out -= io > inf_bits;
      inf_out -= io == inf_bits;
      nonzero -= r_fin & r_nz;
      overflowed -= r_fin & ~o_fin;
      both = r_fin & o_fin;
      compared -= both;
    } else {
      nonzero -= r_nz;
    }
    const V8i fl = both & r_nz & (io == zero_bits);
    flushed -= fl;
    const V8d d = reinterpret_cast<V8d>(reinterpret_cast<V8i>(o - r) & abs_bits);  // |out - ref|
    const V8d rr = r * r;
    const V8i up_abs = both & (d > max_abs);
    max_abs = reinterpret_cast<V8d>((reinterpret_cast<V8i>(d) & up_abs) | (reinterpret_cast<V8i>(max_abs) & ~up_abs));
    const V8d q = d / reinterpret_cast<V8d>(ir);  // RelError(ref, out)
    const V8i up_rel = both & r_nz & (q > max_rel);
    max_rel = reinterpret_cast<V8d>((reinterpret_cast<V8i>(q) & up_rel) | (reinterpret_cast<V8i>(max_rel) & ~up_rel));
    // The terms (bits & mask: the value where the mask is set, +0.0
    // elsewhere), those of pairs i..i+3 and then those of i+4..i+7 to the
    // sums' four lanes.
    V8d t_err = d * d, t_ref = rr, t_out = o * o, t_ro = r * o;
    if constexpr (!kFinite) {
      t_err = reinterpret_cast<V8d>(reinterpret_cast<V8i>(t_err) & both);
      t_ref = reinterpret_cast<V8d>(reinterpret_cast<V8i>(t_ref) & both);
      t_out = reinterpret_cast<V8d>(reinterpret_cast<V8i>(t_out) & both);
      t_ro = reinterpret_cast<V8d>(reinterpret_cast<V8i>(t_ro) & both);
    }
    const V8d t_fl = reinterpret_cast<V8d>(reinterpret_cast<V8i>(rr) & fl);
    sq_err += __builtin_shufflevector(t_err, t_err, 0, 1, 2, 3);
    sq_err += __builtin_shufflevector(t_err, t_err, 4, 5, 6, 7);
    sq_ref += __builtin_shufflevector(t_ref, t_ref, 0, 1, 2, 3);
    sq_ref += __builtin_shufflevector(t_ref, t_ref, 4, 5, 6, 7);
    sq_out += __builtin_shufflevector(t_out, t_out, 0, 1, 2, 3);
    sq_out += __builtin_shufflevector(t_out, t_out, 4, 5, 6, 7);
    ref_out += __builtin_shufflevector(t_ro, t_ro, 0, 1, 2, 3);
    ref_out += __builtin_shufflevector(t_ro, t_ro, 4, 5, 6, 7);
    sq_fl += __builtin_shufflevector(t_fl, t_fl, 0, 1, 2, 3);
    sq_fl += __builtin_shufflevector(t_fl, t_fl, 4, 5, 6, 7);
  }
  for (int k = 0; k < 8; ++k) {
    s.nan_inputs += static_cast<uint64_t>(nan_in[k]);
    s.inf_inputs += static_cast<uint64_t>(inf_in[k]);
    s.nan_outputs += static_cast<uint64_t>(nan_out[k]);
    s.inf_outputs += static_cast<uint64_t>(inf_out[k]);
    s.nonzero += static_cast<uint64_t>(nonzero[k]);
    s.overflowed += static_cast<uint64_t>(overflowed[k]);
    s.compared += static_cast<uint64_t>(compared[k]);
    s.flushed += static_cast<uint64_t>(flushed[k]);
    s.max_abs_err = std::max(s.max_abs_err, max_abs[k]);
    s.max_rel_err = std::max(s.max_rel_err, max_rel[k]);
  }
  double l_err[4], l_ref[4], l_out[4], l_ro[4], l_fl[4];
  for (int k = 0; k < 4; ++k) {
    l_err[k] = sq_err[k];
    l_ref[k] = sq_ref[k];
    l_out[k] = sq_out[k];
    l_ro[k] = ref_out[k];
    l_fl[k] = sq_fl[k];
  }
  if constexpr (kFinite) s.compared += i;
  s.elements += i;
  // The last n mod 8 pairs (lanes 0, 1, 2, 3, 0, 1, 2): Add's steps on one lane.
  for (int k = 0; i < n; ++i, k = (k + 1) % 4) {
    const double r = static_cast<double>(ref[i]), o = static_cast<double>(out[i]);
    ErrorStats one;
    one.Add(r, o);
    s.AddCounts(one);
    if (one.compared) {
      const double d = std::fabs(o - r);
      l_err[k] += d * d;
      l_ref[k] += r * r;
      l_out[k] += o * o;
      l_ro[k] += r * o;
      if (one.flushed) l_fl[k] += r * r;
    }
  }
  auto lanes = [](const double* l) { return (l[0] + l[1]) + (l[2] + l[3]); };
  s.sum_sq_err += lanes(l_err);
  s.sum_sq_ref += lanes(l_ref);
  s.sum_sq_out += lanes(l_out);
  s.sum_ref_out += lanes(l_ro);
  s.sum_sq_flushed += lanes(l_fl);
}

template <class R>
void AddLanes(ErrorStats& s, const R* ref, const float* out, size_t n) {
  if (AllFinitePairs(ref, out, n)) AddLanes<R, true>(s, ref, out, n);
  else AddLanes<R, false>(s, ref, out, n);
}
